// Where connection settings come from, the way libpq (and psql) take them: keyword/value strings,
// service files, the password file, the Unix socket default, and verify-full for IP addresses.
// Real files in a temporary HOME; no server needed (the end-to-end checks are in test/connecting.test.ts).
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import t from 'tap';
import { passwordsIn, resolveConnectionConfig, secretsOf } from '../../src/connection/index.js';
import { DEFAULT_SOCKET_DIRS } from '../../src/connection/hosts.js';
import { checkHost } from '../../src/connection/tls.js';

const home = () => mkdtempSync(join(tmpdir(), 'pglock-sources-'));
function file(dir: string, name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}
const messageOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error as Error & { exitCode?: number };
  }
  throw new Error('expected an error');
};

t.test('keyword/value strings, with libpq quoting', async (t) => {
  const config = resolveConnectionConfig("host=db.internal port=5433 user=cron dbname='night jobs' password='it\\'s' sslmode=disable", {});
  t.match(config, { host: 'db.internal', port: 5433, user: 'cron', database: 'night jobs', password: "it's", ssl: false });
  const quoted = resolveConnectionConfig("host = db  password = 'a \\'quoted\\' pass\\\\word' user=u sslmode=disable", {});
  t.equal(quoted.password, "a 'quoted' pass\\word", 'backslash escapes inside quotes');
  t.equal(resolveConnectionConfig('host=db user=u password=back\\ slash sslmode=disable', {}).password, 'back slash', 'a backslash escapes a space in an unquoted value');
  const listed = resolveConnectionConfig('host=a,b,c port=5432,5433,5434 user=u sslmode=disable', {});
  t.same(listed.hosts?.map((h) => `${h.host}:${h.port}`), ['a:5432', 'b:5433', 'c:5434'], 'host and port lists');
  t.same(resolveConnectionConfig('host=a user=u application_name=x schema=y sslmode=disable', {}).ignoredParams, ['application_name', 'schema'], 'unknown and unused keywords are ignored, and listed');
  t.equal(resolveConnectionConfig('jobs', { PGHOST: 'h', PGUSER: 'u' }).database, 'jobs', 'a bare word is a database name, as psql -d takes it');

  const missing = messageOf(() => resolveConnectionConfig('host=db hunter2secret user=u', {}));
  t.match(missing, { name: 'UsageError', exitCode: 64, message: /missing "=" after a word \(not shown: it may be a password\)/ });
  t.notMatch(missing.message, /hunter2secret/);
  t.match(messageOf(() => resolveConnectionConfig('host=db user', {})).message, /missing "=" after "user"/);
  const open = messageOf(() => resolveConnectionConfig("host=db password='hunter2secret", {}));
  t.match(open.message, /the quoted value of "password" has no closing quote/);
  t.notMatch(open.message, /hunter2secret/);
  t.same(passwordsIn("host=db password='hunter 2' sslpassword=k3y"), ['hunter 2', 'k3y'], 'passwords in pairs are masked in output');
  t.same(passwordsIn('postgres://u@h/d?password=s3cret&sslmode=require'), ['s3cret', 's3cret'], 'and in a URL query');
});

t.test('service files: PGSERVICEFILE or ~/.pg_service.conf, then PGSYSCONFDIR; explicit settings win', async (t) => {
  const dir = home();
  file(dir, '.pg_service.conf', '# my services\n[nightly]\nhost=db.internal\nport=6432\ndbname=app\nuser=cron\nsslmode=disable\n\n[other]\nhost=elsewhere\n');
  const env = { HOME: dir };
  t.match(resolveConnectionConfig('service=nightly', env), { host: 'db.internal', port: 6432, database: 'app', user: 'cron', service: { name: 'nightly' } });
  t.match(resolveConnectionConfig(undefined, { ...env, PGSERVICE: 'nightly' }), { host: 'db.internal', port: 6432 }, 'PGSERVICE');
  t.match(resolveConnectionConfig('postgres://other@db2/app2?service=nightly', env), { host: 'db2', port: 6432, user: 'other', database: 'app2' }, 'the URL overrides the service');
  t.match(resolveConnectionConfig('service=nightly port=7777', { ...env, PGPORT: '1111' }), { port: 7777 }, 'a keyword overrides the service');
  t.match(resolveConnectionConfig('service=nightly', { ...env, PGHOST: 'from-env', PGPASSWORD: 'pw' }), { host: 'db.internal', password: 'pw' }, 'the service overrides the environment, which fills the rest');

  const sys = home();
  file(sys, 'pg_service.conf', '[system-only]\nhost=sys.internal\nsslmode=disable\n[nightly]\nhost=not-this-one\n');
  const both = { ...env, PGSYSCONFDIR: sys };
  t.match(resolveConnectionConfig('service=system-only', both), { host: 'sys.internal' }, 'PGSYSCONFDIR/pg_service.conf when the user file lacks it');
  t.match(resolveConnectionConfig('service=nightly', both), { host: 'db.internal' }, 'the user file first');
  const own = file(home(), 'services', '[nightly]\nhost=own-file\nsslmode=disable\n');
  t.match(resolveConnectionConfig('service=nightly', { ...both, PGSERVICEFILE: own }), { host: 'own-file' }, 'PGSERVICEFILE instead of ~/.pg_service.conf');

  const unknown = messageOf(() => resolveConnectionConfig('service=nope', both));
  t.match(unknown, { name: 'UsageError', exitCode: 64 });
  t.equal(unknown.message, `definition of service 'nope' not found (looked in ${join(dir, '.pg_service.conf')} and ${join(sys, 'pg_service.conf')})`);
  const bad = file(home(), 'bad', '[x]\nhost=h\nservice=y\n[z]\npassword hunter2secret\n[w]\nhost=h\nbogus=1\n');
  t.match(messageOf(() => resolveConnectionConfig('service=x', { PGSERVICEFILE: bad })).message, /nested service specifications are not supported \(service file .*bad, line 3\)/);
  const noEq = messageOf(() => resolveConnectionConfig('service=z', { PGSERVICEFILE: bad }));
  t.match(noEq.message, /syntax error in service file .*bad, line 5/);
  t.notMatch(noEq.message, /hunter2secret/);
  t.match(messageOf(() => resolveConnectionConfig('service=w', { PGSERVICEFILE: bad })).message, /line 8: unknown keyword/);
});

t.test('the password file: ~/.pgpass or PGPASSFILE, libpq format, used only without a password', async (t) => {
  const dir = home();
  file(dir, '.pgpass', [
    '# comments and blank lines are skipped',
    '',
    'db.internal:5432:app:cron:first\\:colon',
    'db.internal:*:*:cron:wildcard',
    'localhost:5432:*:sock:via-socket',
    'other\\:host:5432:*:*:escaped\\\\backslash',
    '*:*:*:*:anything:ends-at-a-colon',
  ].join('\n'));
  const env = { HOME: dir, PGSSLMODE: 'disable' };
  const password = (text: string, extra: Record<string, string> = {}) => {
    const config = resolveConnectionConfig(text, { ...env, ...extra });
    return config.password ?? config.hosts?.[0]?.password;
  };
  t.equal(password('postgres://cron@db.internal/app'), 'first:colon', 'the first matching line, \\: unescaped');
  t.equal(password('postgres://cron@db.internal:6000/other'), 'wildcard', '* matches anything');
  t.equal(password('host=other:host user=x dbname=y'), 'escaped\\backslash', 'an escaped colon in the host field');
  t.equal(password('postgres://nobody@elsewhere/x'), 'anything', 'the password ends at the next unescaped colon');
  t.equal(password('host=/var/run/postgresql user=sock dbname=x'), 'via-socket', 'a Unix socket matches localhost');
  t.equal(password('postgres://cron:given@db.internal/app'), 'given', 'a password given otherwise wins');
  const perHost = resolveConnectionConfig('postgres://cron@db.internal,elsewhere/app', env);
  t.same(perHost.hosts?.map((h) => h.password), ['first:colon', 'anything'], 'looked up per host');
  t.same(secretsOf(perHost), ['first:colon', 'anything'], 'and masked in output');
  t.equal(resolveConnectionConfig('postgres://cron@db.internal/app', env).passwordFile, join(dir, '.pgpass'));

  const other = file(home(), 'passfile', 'h:*:*:*:from-pgpassfile\n');
  t.equal(password('postgres://u@h/d', { PGPASSFILE: other }), 'from-pgpassfile', 'PGPASSFILE');
  t.equal(password(`host=h user=u dbname=d passfile=${other}`), 'from-pgpassfile', 'passfile=');

  const open = home();
  const loose = file(open, '.pgpass', '*:*:*:*:too-open\n', 0o644);
  const config = resolveConnectionConfig('postgres://u@h/d', { HOME: open, PGSSLMODE: 'disable' });
  t.equal(config.hosts?.[0]?.password, undefined, 'a file others may read is ignored');
  t.same(config.notes, [`password file ${loose} has group or world access; permissions should be u=rw (0600) or less; ignoring it`]);
});

t.test('no host: the Unix socket, /var/run/postgresql then /tmp, as libpq', async (t) => {
  const config = resolveConnectionConfig(undefined, { PGPORT: '59999', PGSSLMODE: 'disable' });
  t.same(config.hosts, DEFAULT_SOCKET_DIRS.map((host) => ({ host, port: 59999 })), 'neither socket exists: both, in order');
  const dir = mkdtempSync(join(tmpdir(), 'pglock-sock-'));
  t.match(resolveConnectionConfig(`host=${dir} port=5999 sslmode=disable`, {}).hosts, [{ host: dir, port: 5999 }], 'host=/dir');
  t.match(resolveConnectionConfig(undefined, { PGHOST: dir, PGSSLMODE: 'disable' }).hosts, [{ host: dir, port: 5432 }], 'PGHOST=/dir');
});

t.test('verify-full checks an IP address against the certificate\'s IP entries, as libpq does', async (t) => {
  const cert = (subjectaltname: string | undefined, cn = 'localhost') => ({ subjectaltname, subject: { CN: cn } }) as unknown as PeerCertificate;
  t.match(checkHost('127.0.0.1', cert('DNS:localhost')), { code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: /does not match host name "127\.0\.0\.1": it names DNS:localhost/ });
  t.equal(checkHost('127.0.0.1', cert('DNS:localhost, IP Address:127.0.0.1')), undefined);
  t.equal(checkHost('::1', cert('IP Address:0:0:0:0:0:0:0:1')), undefined, 'IPv6 written differently');
  t.match(checkHost('10.0.0.2', cert('IP Address:10.0.0.1')), { message: /its IP addresses are 10\.0\.0\.1/ });
  t.equal(checkHost('10.0.0.2', cert(undefined, '10.0.0.2')), undefined, 'no subjectAltName at all: the common name');
  t.equal(checkHost('localhost', cert('DNS:localhost')), undefined, 'a DNS name as Node checks it');
  t.match(checkHost('db.example', cert('DNS:localhost')), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
});
