// A role without EXECUTE on the advisory-lock functions (revoked from PUBLIC) is told what is
// missing and the GRANT that fixes it, with exit 77 (PermissionError), not "cannot connect" or
// "lost the connection" (issue 28). On a server of its own: the REVOKE is server-wide.
import t from 'tap';
import { PermissionError, acquireLock } from '../src/index.js';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { runPglock } from './helpers/run-pglock.js';

const server = await startTestServer(t, { own: true });
const role = `no_advisory_${process.pid}`;
await server.admin.unsafe(`create role ${role} login password 'role-pw'`);
await server.admin.unsafe(`revoke execute on function pg_catalog.pg_try_advisory_lock(bigint), pg_catalog.pg_advisory_lock(bigint) from public`);
t.teardown(() => server.admin.unsafe(`grant execute on function pg_catalog.pg_try_advisory_lock(bigint), pg_catalog.pg_advisory_lock(bigint) to public`));
const url = `postgres://${role}:role-pw@${server.host}:${server.port}/${server.database}`;
const grant = `grant execute on function pg_catalog.pg_try_advisory_lock(bigint), pg_catalog.pg_advisory_lock(bigint), pg_catalog.pg_advisory_unlock(bigint) to "${role}";`;

t.test('fail fast and --wait: one line naming the function and the GRANT, exit 77', async (t) => {
  for (const [what, extra, fn] of [['fail fast', [], 'pg_try_advisory_lock'], ['--wait', ['--wait'], 'pg_advisory_lock']] as const) {
    const result = await runPglock(['-d', url, '-k', uniqueKey('priv'), ...extra, '--', 'echo', 'ran']);
    t.equal(result.code, 77, `${what}: ${result.stderr}`);
    t.equal(result.stdout.length, 0, `${what}: the command never ran`);
    t.equal(result.stderr.trim().split('\n').length, 1, `${what}: one line`);
    t.match(result.stderr, `may not call pg_catalog.${fn} (permission denied for function ${fn}, 42501)`, what);
    t.match(result.stderr, grant, `${what}: the GRANT to run`);
    t.notMatch(result.stderr, /cannot connect|lost the connection|role-pw/, `${what}: not a connection failure, no password`);
  }
});

t.test('the library rejects with a PermissionError (exit 77, EPERM)', async (t) => {
  const error = await acquireLock({ url, key: uniqueKey('priv-lib'), connectTimeoutMs: 2000 }).then(() => undefined, (e: unknown) => e);
  t.ok(error instanceof PermissionError, String(error));
  t.match(error, { code: 'EPERM', exitCode: 77, message: new RegExp(`${grant.replace(/[()"]/g, '\\$&')}$`) });
});

t.test('the GRANT it prints is enough', async (t) => {
  await server.admin.unsafe(grant);
  for (const extra of [[], ['--wait']]) {
    const result = await runPglock(['-d', url, '-k', uniqueKey('priv-ok'), ...extra, '--', 'echo', 'ran']);
    t.equal(result.code, 0, result.stderr);
    t.equal(result.stdout.toString(), 'ran\n');
  }
});
