// PgBouncer: transaction and statement pooling cannot carry a session lock and are refused (69)
// before the command runs; session pooling works. Skipped, saying why, when pgbouncer is absent.
import t from 'tap';
import { lockIdForKey } from '../src/lock-id.js';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { findPgbouncer, startPgbouncer } from './helpers/pgbouncer.js';
import { runPglock, startPglock } from './helpers/run-pglock.js';
import { lockRows } from './helpers/locks.js';

if (!findPgbouncer()) {
  t.plan(0, 'pgbouncer is not installed (apt-get install pgbouncer; .ci/run installs it)');
} else {
  const server = await startTestServer(t, { own: true });

  for (const mode of ['transaction', 'statement'] as const) {
    t.test(`PgBouncer in ${mode} mode is refused with 69 and the command never runs`, async (t) => {
      const bouncer = await startPgbouncer(server, mode);
      t.teardown(() => bouncer.stop());
      const key = uniqueKey(mode);
      const result = await runPglock(['-d', bouncer.url, '-k', key, '--', 'echo', 'must not run']);
      t.equal(result.code, 69);
      t.equal(result.stdout.length, 0, 'the command did not run');
      t.match(result.stderr, /^pglock: error: .*connection pooler in transaction or statement mode \(e\.g\. PgBouncer\) cannot hold session locks.*\n$/);
      t.same(await lockRows(server.admin, lockIdForKey(key)), [], 'no lock left behind on a pooled backend');
    });
  }

  t.test('PgBouncer in session mode works, and the lock excludes direct clients', async (t) => {
    const bouncer = await startPgbouncer(server, 'session');
    t.teardown(() => bouncer.stop());
    const key = uniqueKey('session');
    const ok = await runPglock(['-d', bouncer.url, '-k', key, '--', 'echo', 'ran']);
    t.equal(ok.code, 0);
    t.equal(ok.stdout.toString(), 'ran\n');
    const holder = startPglock(['-d', bouncer.url, '-k', key, '--', process.execPath, '-e', 'console.error("fixture ready"); setInterval(() => {}, 1000)']);
    await holder.waitForStderr(/fixture ready/);
    t.equal((await runPglock(['-d', server.url, '-k', key, '--', 'true'])).code, 75, 'a direct pglock sees it busy');
    t.equal((await runPglock(['-d', bouncer.url, '-k', key, '--', 'true'])).code, 75, 'so does one through the pool');
    holder.child.kill('SIGTERM');
    t.equal((await holder.result).code, 143);
  });
}
