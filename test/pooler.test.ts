// PgBouncer: statement pooling cannot carry a lock and is refused (69) before the command runs;
// transaction pooling holds the lock in an open transaction; session pooling works. Skipped, saying why, when pgbouncer is absent.
import t, { type Test } from 'tap';
import postgres from 'postgres';
import { lockIdForKey } from '../src/key/lock-id.js';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { findPgbouncer, startPgbouncer } from './helpers/pgbouncer.js';
import { runPglock, startPglock } from './helpers/run-pglock.js';
import { lockRows } from './helpers/locks.js';

if (!findPgbouncer()) {
  t.plan(0, 'pgbouncer is not installed (apt-get install pgbouncer; .ci/run installs it)');
} else {
  const server = await startTestServer(t, { own: true });

  t.test('PgBouncer in statement mode is refused with 69 and the command never runs', async (t) => {
    const bouncer = await startPgbouncer(server, 'statement');
    t.teardown(() => bouncer.stop());
    const key = uniqueKey('statement');
    const result = await runPglock(['-d', bouncer.url, '-k', key, '--', 'echo', 'must not run']);
    t.equal(result.code, 69);
    t.equal(result.stdout.length, 0, 'the command did not run');
    t.match(result.stderr, /^pglock: error: .*connection pooler in statement mode \(e\.g\. PgBouncer\) cannot hold session locks.*\n$/);
    t.same(await lockRows(server.admin, lockIdForKey(key)), [], 'no lock left behind on a pooled backend');
  });

  t.test('PgBouncer in transaction mode: the lock is held in an open transaction, excludes direct holders both ways, holds back nothing', async (t) => {
    const bouncer = await startPgbouncer(server, 'transaction');
    t.teardown(() => bouncer.stop());
    const key = uniqueKey('transaction');
    const id = lockIdForKey(key);
    await runInTransactionMode(t, bouncer.url, key);
    t.same(await lockRows(server.admin, id), [], 'the commit ended the lock');

    const holder = startPglock(['-d', bouncer.url, '-k', key, '--heartbeat', '300ms', '--', process.execPath, '-e', 'console.error("fixture ready"); setInterval(() => {}, 1000)']);
    await holder.waitForStderr(/fixture ready/);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const [row] = await lockRows(server.admin, id);
    t.ok(row?.granted, 'held on the server');
    // Sampled, since a heartbeat statement may be running at the moment of a look (then the
    // backend is `active` with that statement's snapshot): between statements the transaction must
    // hold no snapshot and no transaction id, and it never gets a transaction id (it only reads).
    const samples: { state: string; xmin: string | null; xid: string | null }[] = [];
    const idle = () => samples.filter((sample) => sample.state === 'idle in transaction');
    for (const deadline = Date.now() + 10_000; idle().length < 5 && Date.now() < deadline;) {
      samples.push(...await server.admin<{ state: string; xmin: string | null; xid: string | null }[]>`
        select state, backend_xmin::text as xmin, backend_xid::text as xid from pg_stat_activity where pid = ${row!.pid}`);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    t.ok(idle().length >= 5, `seen idle in transaction between heartbeats (${idle().length} of ${samples.length} looks)`);
    t.same(idle().filter((sample) => sample.xmin !== null || sample.xid !== null), [],
      'an open transaction with no snapshot and no transaction id between statements: vacuum is not held back');
    t.same(samples.filter((sample) => sample.xid !== null), [], 'never a transaction id');
    t.equal((await runPglock(['-d', server.url, '-k', key, '--', 'true'])).code, 75, 'a direct pglock sees it busy');
    t.equal((await runPglock(['-d', bouncer.url, '-k', key, '--', 'true'])).code, 75, 'so does one through the pool');
    const waiter = startPglock(['-d', bouncer.url, '-k', key, '--wait', '--timeout', '20s', '--', 'echo', 'waited']);
    await new Promise((resolve) => setTimeout(resolve, 500));
    t.equal(waiter.child.exitCode, null, 'a waiter through the pool waits');
    await server.admin`select pg_terminate_backend(${row!.pid})`;
    const lost = await holder.result;
    t.equal(lost.code, 70, 'losing the server connection stops the command: 70');
    t.match(lost.stderr, /lost the lock/);
    const waited = await waiter.result;
    t.equal(waited.code, 0, waited.stderr);
    t.equal(waited.stdout.toString(), 'waited\n', 'the waiter ran after the holder lost the lock');

    // --verbose: should it not start in time (once, in a full run, it printed nothing for 20 s), the
    // failure shows what it was doing.
    const direct = startPglock(['-d', server.url, '-k', key, '--verbose', '--', process.execPath, '-e', 'console.error("fixture ready"); setInterval(() => {}, 1000)']);
    await direct.waitForStderr(/fixture ready/);
    t.equal((await runPglock(['-d', bouncer.url, '-k', key, '--', 'true'])).code, 75, 'a direct holder excludes a pooled pglock');
    direct.child.kill('SIGTERM');
    await direct.result;
    t.same(await lockRows(server.admin, id), [], 'nothing left behind');
  });

  t.test('PgBouncer in transaction mode, found out only after the grant: the abandoned session grant leaves no cut-off holder behind', async (t) => {
    // Round robin: the probe before the lock is handed another server connection than the session's,
    // so the pooler is not seen up front. The session lock is granted and claimed on one server
    // connection, found not to stay with pglock, given up, and taken again in a transaction.
    const bouncer = await startPgbouncer(server, 'transaction', { roundRobin: true });
    t.teardown(() => bouncer.stop());
    const pool = postgres(bouncer.url, { max: 4, prepare: false, onnotice: () => {} });
    t.teardown(() => pool.end({ timeout: 1 }));
    await Promise.all([0, 1, 2, 3].map(() => pool`select pg_catalog.pg_sleep(0.2)`));
    const key = uniqueKey('late');
    const id = lockIdForKey(key);
    await runInTransactionMode(t, bouncer.url, key);
    const rows = await server.admin<{ bound: string }[]>`select bound_ms::text as bound from public.pglock_holders where lock_id = ${id.toString()}::int8`;
    t.ok(rows.length > 0, 'the session grant was claimed before the pooler was found out');
    t.same(rows.filter((row) => row.bound !== '0'), [], 'and its claim is marked released: nothing ran under it');
    const direct = await runPglock(['-d', server.url, '-k', key, '-v', '--', 'echo', 'direct']);
    t.equal(direct.code, 0, direct.stderr);
    t.equal(direct.stdout.toString(), 'direct\n');
    t.notMatch(direct.stderr, /cut off/, 'the next holder starts at once');
  });

  t.test('--transaction-lock: told, not detected; not with the run record', async (t) => {
    const key = uniqueKey('forced');
    const forced = await runPglock(['-d', server.url, '-k', key, '--transaction-lock', '--', 'echo', 'ran']);
    t.equal(forced.code, 0, forced.stderr);
    t.equal(forced.stdout.toString(), 'ran\n');
    const record = await runPglock(['-d', server.url, '-k', key, '--transaction-lock', '--record', '--', 'true']);
    t.equal(record.code, 64);
    t.match(record.stderr, /--transaction-lock and --record cannot be used together/);
  });

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

// One fail-fast run through a transaction-mode pool: it runs, and says it held the lock in a transaction.
async function runInTransactionMode(t: Test, url: string, key: string): Promise<void> {
  const ran = await runPglock(['-d', url, '-k', key, '-v', '--', 'echo', 'ran']);
  t.equal(ran.code, 0, ran.stderr);
  t.equal(ran.stdout.toString(), 'ran\n');
  t.match(ran.stderr, /is a transaction-mode pooler: holding the lock in a transaction kept open while it is held/);
}
