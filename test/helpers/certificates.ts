// A throwaway certificate authority, minted with openssl for TLS tests: a CA, a server certificate
// that names only "localhost" (DNS), a client certificate for a role, the same client key encrypted
// with a passphrase, and a second, unrelated CA.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Certificates {
  dir: string;
  caCert: string;
  otherCaCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate for the same role from the other CA, which the server does not trust. */
  foreignClientCert: string;
  foreignClientKey: string;
  /** clientKey, encrypted with `keyPassphrase`. */
  encryptedClientKey: string;
  keyPassphrase: string;
}

export function mintCertificates(clientRole: string): Certificates {
  const { dir, path, openssl, ca, sign } = authority();
  ca('other-ca', 'some other CA');
  sign('client', clientRole, 'extendedKeyUsage=clientAuth\n');
  sign('foreign-client', clientRole, 'extendedKeyUsage=clientAuth\n', 'other-ca');
  const keyPassphrase = 'key-passphrase-4711';
  openssl('pkey', '-in', 'client.key', '-aes256', '-passout', `pass:${keyPassphrase}`, '-out', 'client-encrypted.key');
  for (const name of ['client.key', 'client-encrypted.key', 'server.key', 'foreign-client.key']) chmodSync(path(name), 0o600);
  return {
    dir, caCert: path('ca.crt'), otherCaCert: path('other-ca.crt'), serverCert: path('server.crt'), serverKey: path('server.key'),
    clientCert: path('client.crt'), clientKey: path('client.key'), foreignClientCert: path('foreign-client.crt'), foreignClientKey: path('foreign-client.key'), encryptedClientKey: path('client-encrypted.key'), keyPassphrase,
  };
}

/** A CA and a server certificate for "localhost" and 127.0.0.1: enough for a server that speaks TLS. */
export function mintServerCertificate(): Pick<Certificates, 'dir' | 'caCert' | 'serverCert' | 'serverKey'> {
  const { dir, path } = authority('subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  return { dir, caCert: path('ca.crt'), serverCert: path('server.crt'), serverKey: path('server.key') };
}

// A fresh directory with the test CA (ca.crt, ca.key) and a server certificate signed by it.
function authority(serverNames = 'subjectAltName=DNS:localhost\n') {
  const dir = mkdtempSync(join(tmpdir(), 'pglock-certs-'));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string, cn: string) => openssl('req', '-x509', ...key, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '3', '-subj', `/CN=${cn}`);
  const sign = (name: string, cn: string, extensions: string, by = 'ca') => {
    openssl('req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    writeFileSync(path(`${name}.ext`), extensions);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${by}.crt`, '-CAkey', `${by}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '3', '-extfile', `${name}.ext`);
  };
  ca('ca', 'pglock test CA');
  sign('server', 'localhost', serverNames);
  chmodSync(path('server.key'), 0o600);
  return { dir, path, openssl, ca, sign };
}
