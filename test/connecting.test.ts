// Connecting the way psql does (issue 12), end to end: the built binary against real servers, with
// real files. A TLS server with its own CA (minted here with openssl): verify-full by name, the
// IP-address mismatch psql refuses, an unknown CA, client certificates (pg_hba `cert`), encrypted
// keys; the password file; a service file; keyword/value strings; peer authentication over the
// default Unix socket as an OS user whose name is the role.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { createCluster } from '../scripts/lib/throwaway-postgres.js';
import { mintCertificates } from './helpers/certificates.js';
import { PGLOCK_BIN, cleanEnv, runPglock } from './helpers/run-pglock.js';
import { serverFor, startTestServer, uniqueKey } from './helpers/server.js';

const CERT_ROLE = 'pglock_cert_user';
const certs = mintCertificates(CERT_ROLE);

// One TLS server: scram for everyone, except CERT_ROLE, which must present a client certificate.
const tlsCluster = await createCluster({
  label: 'tls', listen: 'localhost',
  hba: [`hostssl all ${CERT_ROLE} 127.0.0.1/32 cert`, `hostssl all ${CERT_ROLE} ::1/128 cert`],
});
for (const [name, from] of [['server.crt', certs.serverCert], ['server.key', certs.serverKey], ['ca.crt', certs.caCert]] as const) {
  tlsCluster.writeDataFile(name, execFileSync('cat', [from]), 0o600);
}
tlsCluster.configure({ ssl: 'on', ssl_cert_file: "'server.crt'", ssl_key_file: "'server.key'", ssl_ca_file: "'ca.crt'" });
await tlsCluster.start();
const tls = serverFor(tlsCluster);
t.teardown(() => tls.close());
await tls.admin.unsafe(`create role ${CERT_ROLE} login`);
const auth = `${encodeURIComponent(tls.user)}:${encodeURIComponent(tls.password)}`;
const at = (host: string, query: string, who = auth) => `postgres://${who}@${host}:${tls.port}/postgres?${query}`;
const emptyHome = () => mkdtempSync(join(tmpdir(), 'pglock-home-'));

async function run(args: string[], env: Record<string, string> = {}) {
  const result = await runPglock([...args, '-k', uniqueKey('connect'), '--', 'echo', 'ran'], { env: { HOME: emptyHome(), ...env } });
  return { ...result, out: result.stdout.toString(), lines: result.stderr.trim().split('\n').filter(Boolean) };
}

t.test('verify-full: the CA and the host name are checked, IP addresses included', async (t) => {
  const byName = await run(['-d', at('localhost', `sslmode=verify-full&sslrootcert=${certs.caCert}`)]);
  t.same([byName.code, byName.out], [0, 'ran\n'], `by name: ${byName.stderr}`);

  // The regression psql does not have: a certificate for "localhost" presented at 127.0.0.1.
  const byIp = await run(['-d', at('127.0.0.1', `sslmode=verify-full&sslrootcert=${certs.caCert}`)]);
  t.equal(byIp.code, 69, 'by IP address, the certificate naming only localhost is refused');
  t.equal(byIp.out, '', 'the command did not run');
  t.match(byIp.stderr, /TLS: host name mismatch \(sslmode=verify-full\): the server certificate does not match host name "127\.0\.0\.1": it names DNS:localhost/);
  t.equal(byIp.lines.length, 1, 'one line');

  const caOnly = await run(['-d', at('127.0.0.1', `sslmode=verify-ca&sslrootcert=${certs.caCert}`)]);
  t.equal(caOnly.code, 0, `verify-ca checks only the chain: ${caOnly.stderr}`);

  const otherCa = await run(['-d', at('localhost', `sslmode=verify-full&sslrootcert=${certs.otherCaCert}`)]);
  t.equal(otherCa.code, 69);
  t.match(otherCa.stderr, /TLS: the server's certificate is not signed by a trusted CA \(check sslrootcert\)/);

  const fromEnv = await run(['-d', `postgres://${auth}@localhost:${tls.port}/postgres`], { PGSSLMODE: 'verify-full', PGSSLROOTCERT: certs.caCert });
  t.equal(fromEnv.code, 0, `PGSSLMODE and PGSSLROOTCERT: ${fromEnv.stderr}`);

  const home = emptyHome();
  mkdirSync(join(home, '.postgresql'));
  copyFileSync(certs.caCert, join(home, '.postgresql', 'root.crt'));
  const defaultRoot = await run(['-d', at('localhost', 'sslmode=verify-full')], { HOME: home });
  t.equal(defaultRoot.code, 0, `~/.postgresql/root.crt by default: ${defaultRoot.stderr}`);
  const noRoot = await run(['-d', at('localhost', 'sslmode=verify-full')]);
  t.equal(noRoot.code, 64, 'verify-full without any root certificate is a usage error, as in libpq');
  t.match(noRoot.stderr, /verify-full needs a root certificate: .*root\.crt does not exist/);
});

t.test('sslnegotiation=direct (PostgreSQL 17+): TLS without the SSLRequest round trip', async (t) => {
  const direct = await run(['-d', at('localhost', `sslmode=verify-full&sslrootcert=${certs.caCert}&sslnegotiation=direct`), '-v']);
  t.same([direct.code, direct.out], [0, 'ran\n'], `direct TLS: ${direct.stderr}`);
  const env = await run(['-d', at('localhost', `sslrootcert=${certs.caCert}`)], { PGSSLMODE: 'verify-full', PGSSLNEGOTIATION: 'direct' });
  t.equal(env.code, 0, `PGSSLNEGOTIATION: ${env.stderr}`);
  const weak = await run(['-d', at('localhost', 'sslnegotiation=direct')]);
  t.equal(weak.code, 64, 'direct needs an sslmode that requires TLS');
  t.match(weak.stderr, /weak sslmode 'prefer' may not be used with sslnegotiation=direct/);
  t.equal((await run(['-d', at('localhost', 'sslnegotiation=sometimes')])).code, 64);
});

t.test('a server without TLS: require says so at once; prefer and disable connect', async (t) => {
  const plain = await startTestServer(t, { own: true });
  const url = (mode: string) => `${plain.url}?sslmode=${mode}`;
  const started = Date.now();
  const required = await run(['-d', url('require')]);
  t.equal(required.code, 69);
  t.match(required.stderr, /^pglock: error: cannot connect to .*: the server does not accept TLS connections, and the sslmode requires TLS \(ENOTLS\)\n$/);
  t.ok(Date.now() - started < 8000, 'not retried until --connect-timeout: another try cannot change the answer');
  for (const mode of ['prefer', 'allow', 'disable']) t.equal((await run(['-d', url(mode)])).code, 0, `sslmode=${mode}`);
  const preferWithCert = await run(['-d', `${url('prefer')}&sslcert=${certs.clientCert}&sslkey=${certs.clientKey}`]);
  t.equal(preferWithCert.code, 0, `prefer with a client certificate falls back to plain TCP too: ${preferWithCert.stderr}`);
});

t.test('client certificates: pg_hba cert accepts one, rejects a connection without', async (t) => {
  const who = CERT_ROLE;
  const base = `sslmode=verify-full&sslrootcert=${certs.caCert}`;
  const withCert = await run(['-d', at('localhost', `${base}&sslcert=${certs.clientCert}&sslkey=${certs.clientKey}`, who)]);
  t.same([withCert.code, withCert.out], [0, 'ran\n'], `sslcert and sslkey: ${withCert.stderr}`);

  const without = await run(['-d', at('localhost', base, who)]);
  t.equal(without.code, 69, 'without a certificate');
  t.match(without.stderr, /authentication failed for pglock_cert_user@localhost:\d+\/postgres: .*certificate/);
  t.equal(without.lines.length, 1);

  const foreign = await run(['-d', at('localhost', `${base}&sslcert=${certs.foreignClientCert}&sslkey=${certs.foreignClientKey}`, who)]);
  t.equal(foreign.code, 69, 'a client certificate from a CA the server does not trust');
  t.match(foreign.stderr, /TLS: the server rejected the client certificate, or requires one \(check sslcert and sslkey\)/);
  t.equal(foreign.lines.length, 1, `one line: ${foreign.stderr}`);

  const viaEnv = await run(['-d', at('localhost', base, who)], { PGSSLCERT: certs.clientCert, PGSSLKEY: certs.clientKey });
  t.equal(viaEnv.code, 0, `PGSSLCERT and PGSSLKEY: ${viaEnv.stderr}`);

  const home = emptyHome();
  mkdirSync(join(home, '.postgresql'));
  copyFileSync(certs.caCert, join(home, '.postgresql', 'root.crt'));
  copyFileSync(certs.clientCert, join(home, '.postgresql', 'postgresql.crt'));
  copyFileSync(certs.clientKey, join(home, '.postgresql', 'postgresql.key'));
  chmodSync(join(home, '.postgresql', 'postgresql.key'), 0o600);
  const defaults = await run(['-d', at('localhost', 'sslmode=verify-full', who)], { HOME: home });
  t.equal(defaults.code, 0, `~/.postgresql/postgresql.crt and .key by default: ${defaults.stderr}`);

  const encrypted = `${base}&sslcert=${certs.clientCert}&sslkey=${certs.encryptedClientKey}`;
  const unlocked = await run(['-d', `${at('localhost', encrypted, who)}&sslpassword=${certs.keyPassphrase}`, '-v', '--log-format', 'json']);
  t.equal(unlocked.code, 0, `an encrypted key with sslpassword: ${unlocked.stderr}`);
  t.notMatch(unlocked.stderr, certs.keyPassphrase, 'the passphrase is never printed');
  const wrong = await run(['-d', `${at('localhost', encrypted, who)}&sslpassword=not-the-passphrase`]);
  t.equal(wrong.code, 64, 'a wrong sslpassword is a usage error, found before connecting');
  t.match(wrong.stderr, /cannot load the client key sslkey '.*client-encrypted\.key': wrong sslpassword/);
  const none = await run(['-d', at('localhost', encrypted, who)]);
  t.match(none.stderr, /it is encrypted: give its passphrase as sslpassword/);
  t.notMatch(wrong.stderr, /not-the-passphrase/, 'and is not printed');
  t.equal(wrong.lines.length, 1, `one line: ${wrong.stderr}`);

  const loose = join(mkdtempSync(join(tmpdir(), 'pglock-key-')), 'client.key');
  copyFileSync(certs.clientKey, loose);
  chmodSync(loose, 0o644);
  const open = await run(['-d', at('localhost', `${base}&sslcert=${certs.clientCert}&sslkey=${loose}`, who)]);
  t.equal(open.code, 64, 'a key file others may read is refused, as libpq refuses it');
  t.match(open.stderr, /private key file .* has group or world access; permissions should be u=rw \(0600\) or less/);
});

t.test('the password file: used when no password is given; one others may read is ignored with a warning', async (t) => {
  const home = emptyHome();
  const pgpass = join(home, '.pgpass');
  writeFileSync(pgpass, `# pglock test\nlocalhost:${tls.port}:*:${tls.user}:${tls.password.replace(/[:\\]/g, '\\$&')}\n`, { mode: 0o600 });
  const url = `postgres://${encodeURIComponent(tls.user)}@localhost:${tls.port}/postgres?sslmode=require`;
  const ok = await run(['-d', url, '-v', '--log-format', 'json'], { HOME: home });
  t.same([ok.code, ok.out], [0, 'ran\n'], `~/.pgpass: ${ok.stderr}`);
  t.notMatch(ok.stderr, tls.password, 'the password from the file is never printed');
  const viaPgpassfile = await run(['-d', url], { PGPASSFILE: pgpass });
  t.equal(viaPgpassfile.code, 0, 'PGPASSFILE');

  chmodSync(pgpass, 0o644);
  const loose = await run(['-d', url], { HOME: home });
  t.equal(loose.code, 69, 'ignored, so no password');
  t.match(loose.lines[0], `pglock: warn: password file ${pgpass} has group or world access; permissions should be u=rw (0600) or less; ignoring it`);

  writeFileSync(pgpass, `localhost:*:*:*:wrong-password-from-file\n`, { mode: 0o600 });
  chmodSync(pgpass, 0o600);
  const wrong = await run(['-d', url, '--log-format', 'json'], { HOME: home });
  t.equal(wrong.code, 69);
  t.match(wrong.stderr, `(password from the password file ${pgpass})`, 'a failed login names the file the password came from');
  t.notMatch(wrong.stderr, 'wrong-password-from-file', 'but never the password');
});

t.test('a service file, keyword/value strings, and a flag overriding one parameter', async (t) => {
  const home = emptyHome();
  writeFileSync(join(home, '.pg_service.conf'),
    `[nightly]\nhost=localhost\nport=${tls.port}\nuser=${tls.user}\npassword=${tls.password}\ndbname=no_such_database\nsslmode=require\n`, { mode: 0o600 });
  const wrongDb = await run(['-d', 'service=nightly'], { HOME: home });
  t.equal(wrongDb.code, 69, 'the service as written names a database that does not exist');
  t.match(wrongDb.stderr, /database 'no_such_database' does not exist/);
  const overridden = await run(['-d', 'service=nightly dbname=postgres', '-v'], { HOME: home });
  t.same([overridden.code, overridden.out], [0, 'ran\n'], `dbname= wins over the service: ${overridden.stderr}`);
  t.match(overridden.stderr, `connection settings from service 'nightly' in ${join(home, '.pg_service.conf')}`);
  t.notMatch(overridden.stderr, tls.password, 'the service file\'s password is never printed');
  const url = await run(['-d', 'postgres:///postgres?service=nightly'], { HOME: home });
  t.equal(url.code, 0, `a URL with service=: ${url.stderr}`);
  const env = await run(['-d', 'dbname=postgres'], { HOME: home, PGSERVICE: 'nightly' });
  t.equal(env.code, 0, `PGSERVICE: ${env.stderr}`);
  const unknown = await run(['-d', 'service=weekly'], { HOME: home });
  t.equal(unknown.code, 64);
  t.match(unknown.stderr, `definition of service 'weekly' not found (looked in ${join(home, '.pg_service.conf')} and /etc/postgresql-common/pg_service.conf)`);

  const quoted = `host=localhost port=${tls.port} user='${tls.user}' password='${tls.password.replace(/['\\]/g, '\\$&')}' dbname = postgres sslmode=require`;
  const kv = await run(['-d', quoted, '-v']);
  t.same([kv.code, kv.out], [0, 'ran\n'], `-d with keyword/value pairs: ${kv.stderr}`);
  t.notMatch(kv.stderr, tls.password);
  const envKv = await run([], { PGLOCK_DATABASE_URL: quoted });
  t.equal(envKv.code, 0, 'PGLOCK_DATABASE_URL with keyword/value pairs');
});

t.test('no host given: the default Unix socket, with peer authentication as an OS user named like the role', async (t) => {
  const root = process.getuid?.() === 0;
  const osUser = root ? 'pglock_peer' : userInfo().username;
  if (root) {
    try {
      execFileSync('id', [osUser], { stdio: 'ignore' });
    } catch {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', osUser]);
    }
  }
  const cluster = await createCluster({ label: 'peer', hba: [`local all ${osUser} peer`] });
  // The socket in /tmp too, where libpq (and now pglock) looks when no host is given.
  cluster.configure({ unix_socket_directories: `'${cluster.socketDir},/tmp'` });
  await cluster.start();
  const server = serverFor(cluster);
  t.teardown(() => server.close());
  await server.admin.unsafe(`create role "${osUser}" login`);

  // The built CLI where that user can read it (the checkout may be in a private home).
  const installed = mkdtempSync(join(tmpdir(), 'pglock-peer-bin-'));
  chmodSync(installed, 0o755);
  const root_ = dirname(dirname(PGLOCK_BIN));
  cpSync(join(root_, 'bin'), join(installed, 'bin'), { recursive: true });
  cpSync(join(root_, 'dist'), join(installed, 'dist'), { recursive: true });
  execFileSync('chmod', ['-R', 'a+rX', installed]);
  const bin = join(installed, 'bin', 'pglock.cjs');
  const env = { ...cleanEnv(), PGPORT: String(server.port), PGDATABASE: 'postgres', HOME: '/' };
  // `env -u NODE_OPTIONS`: tap puts its hooks (in this checkout's node_modules) into NODE_OPTIONS of
  // every process a test spawns, even with an env that lacks it; the other OS user cannot read them
  // when the checkout is in a private (0700) directory, and its node would fail to start (issue 28).
  const node = ['env', '-u', 'NODE_OPTIONS', process.execPath, bin];
  const command = root ? ['runuser', '-u', osUser, '--', ...node] : node;
  const args = ['-v', '-k', uniqueKey('peer'), '--', 'sh', '-c', 'echo "ran as $(id -un)"'];
  let out = '';
  let code = 0;
  let stderr = '';
  try {
    out = execFileSync(command[0]!, [...command.slice(1), ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    ({ status: code, stderr } = error as { status: number; stderr: string });
  }
  t.equal(code, 0, `exit 0: ${stderr}`);
  t.equal(out, `ran as ${osUser}\n`, `ran as ${osUser}, over /tmp/.s.PGSQL.${server.port}, with peer authentication`);

  const missing = await runPglock(['-k', uniqueKey('nosock'), '--connect-timeout', '300ms', '--', 'true'], { env: { PGPORT: '1', HOME: '/' } });
  t.equal(missing.code, 69);
  t.match(missing.stderr, /\/var\/run\/postgresql\/\.s\.PGSQL\.1: no such socket \(ENOENT\); \/tmp\/\.s\.PGSQL\.1: no such socket \(ENOENT\)/, 'a missing socket: the error names where pglock looked');
});
