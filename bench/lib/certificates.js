// A CA and a server certificate for the bench's TLS server, minted with openssl (EC P-256, as a
// managed service would hand out). The tools connect with sslmode prefer (pglock's default, as
// users run it) or withlock's no-verify: the certificate is not checked, only the TLS is real.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function mintServerCertificate() {
  const dir = mkdtempSync(join(tmpdir(), 'pglock-bench-certs-'));
  const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=pglock bench CA');
  openssl('req', ...key, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext');
  const read = (name) => readFileSync(join(dir, name));
  return { dir, caCert: join(dir, 'ca.crt'), serverCert: read('server.crt'), serverKey: read('server.key') };
}
