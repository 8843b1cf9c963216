import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { describeTarget, passwordsIn, pickDatabaseUrl, resolveConnectionConfig } from '../../src/connection/index.js';

t.test('URL precedence: flag, PGLOCK_DATABASE_URL, DATABASE_URL, then libpq variables', async (t) => {
  const env = { PGLOCK_DATABASE_URL: 'postgres://a@h1/d', DATABASE_URL: 'postgres://b@h2/d' };
  t.equal(pickDatabaseUrl('postgres://c@h3/d', env), 'postgres://c@h3/d');
  t.equal(pickDatabaseUrl(undefined, env), 'postgres://a@h1/d');
  t.equal(pickDatabaseUrl(undefined, { DATABASE_URL: 'postgres://b@h2/d' }), 'postgres://b@h2/d');
  t.equal(pickDatabaseUrl(undefined, { DATABASE_URL: '' }), undefined);
});

t.test('a URL is parsed; the environment fills the gaps', async (t) => {
  const config = resolveConnectionConfig('postgresql://alice:p%40ss@db.example:6543/jobs?sslmode=require', {});
  t.match(config, { host: 'db.example', port: 6543, database: 'jobs', user: 'alice', password: 'p@ss', ssl: 'require' });
  const partial = resolveConnectionConfig('postgres:///jobs', { PGHOST: 'h', PGPORT: '7000', PGUSER: 'u', PGPASSWORD: 'pw' });
  t.match(partial, { host: 'h', port: 7000, database: 'jobs', user: 'u', password: 'pw' });
  const socket = resolveConnectionConfig('postgres:///jobs?host=/var/run/postgresql', {});
  t.equal(socket.host, '/var/run/postgresql');
  const ignored = resolveConnectionConfig('postgres://u@h/d?schema=public&connection_limit=5', {});
  t.same(ignored.ignoredParams, ['schema', 'connection_limit'], 'foreign parameters (e.g. Prisma) are ignored, not fatal');
});

t.test('libpq variables alone', async (t) => {
  const config = resolveConnectionConfig(undefined, {
    PGHOST: 'pg', PGPORT: '5433', PGUSER: 'bob', PGPASSWORD: 'secret', PGDATABASE: 'app', PGSSLMODE: 'disable',
  });
  t.match(config, { host: 'pg', port: 5433, user: 'bob', password: 'secret', database: 'app', ssl: false });
  t.equal(resolveConnectionConfig(undefined, { PGUSER: 'bob' }).database, 'bob', 'database defaults to the user');
  t.equal(resolveConnectionConfig(undefined, {}).ssl, 'prefer', 'sslmode defaults to prefer, as in libpq');
});

t.test('sslmode values', async (t) => {
  const ssl = (mode: string) => resolveConnectionConfig(`postgres://u@h/d?sslmode=${mode}`, {}).ssl;
  t.equal(ssl('disable'), false);
  t.equal(ssl('allow'), 'prefer');
  t.equal(ssl('prefer'), 'prefer');
  t.equal(ssl('require'), 'require');
  // verify-* need a root certificate, as in libpq: ~/.postgresql/root.crt, sslrootcert, or system.
  const home = mkdtempSync(join(tmpdir(), 'pglock-home-'));
  mkdirSync(join(home, '.postgresql'));
  writeFileSync(join(home, '.postgresql', 'root.crt'), 'not checked until a connection is made\n');
  const verify = (mode: string) => resolveConnectionConfig(`postgres://u@h/d?sslmode=${mode}`, { HOME: home }).ssl;
  t.match(verify('verify-full'), { rejectUnauthorized: true, ca: /not checked/ });
  t.match(verify('verify-ca'), { rejectUnauthorized: true, checkServerIdentity: Function });
  t.match(verify('require'), { rejectUnauthorized: true }, 'require with a root certificate file verifies the chain, as in libpq');
  t.throws(() => ssl('verify-full'), { name: 'UsageError', message: /verify-full needs a root certificate: .*root\.crt does not exist/ });
  t.match(resolveConnectionConfig('postgres://u@h/d?sslrootcert=system', {}).ssl, { rejectUnauthorized: true }, 'sslrootcert=system: the system roots, verify-full');
  t.throws(() => ssl('require&sslrootcert=system'), { message: /weak sslmode 'require' may not be used with sslrootcert=system/ });
  t.throws(() => ssl('sometimes'), { name: 'UsageError', message: /sslmode/ });
  t.throws(() => resolveConnectionConfig('postgres://u@h/d?sslmode=verify-full&sslrootcert=/nonexistent', {}), { message: /sslrootcert/ });
});

t.test('bad URLs: one clear message, never the password', async (t) => {
  for (const url of ['postgres://user:hunter2secret@[::1', 'not a url hunter2secret', 'mysql://u:hunter2secret@h/d']) {
    let caught: unknown;
    try {
      resolveConnectionConfig(url, {});
    } catch (error) {
      caught = error;
    }
    t.match(caught, { name: 'UsageError', exitCode: 64 }, url.slice(0, 12));
    t.notMatch(String((caught as Error).message), /hunter2secret/, 'no password in the message');
  }
  t.throws(() => resolveConnectionConfig('postgres://u@h:99999/d', {}), { name: 'UsageError' });
  t.throws(() => resolveConnectionConfig(undefined, { PGPORT: 'abc' }), { message: /port/ });
});

t.test('describing the target never shows the password', async (t) => {
  const config = resolveConnectionConfig('postgres://alice:topsecret@[::1]:5432/jobs', {});
  t.equal(describeTarget(config), 'alice@[::1]:5432/jobs');
  t.same(passwordsIn('--x=postgres://alice:top%2Fsecret@h/d'), ['top/secret', 'top%2Fsecret']);
  t.same(passwordsIn('postgres://alice@h/d'), []);
  t.same(passwordsIn(undefined), []);
});
