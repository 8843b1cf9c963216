// withTransactionLock on the application's own postgres.js client, against a real server and
// through a real PgBouncer in transaction mode: the seed's three tests, the lock's lifetime, waits,
// the CLI's exclusion both ways, and bad input.
import { hostname } from 'node:os';
import postgres from 'postgres';
import t from 'tap';
import { LockBusyError, LockTimeoutError, UsageError, lockIdForKey, withTransactionLock } from '../src/index.js';
import { lockIdHalves } from '../src/key/lock-id.js';
import { findPgbouncer, startPgbouncer } from './helpers/pgbouncer.js';
import { runPglock, startPglock } from './helpers/run-pglock.js';
import { startTestServer, uniqueKey } from './helpers/server.js';

const server = await startTestServer(t);
const sql = postgres(server.url, { max: 4, onnotice: () => {} });
t.teardown(() => sql.end({ timeout: 1 }));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function advisoryRows(key: string) {
  const { classid, objid } = lockIdHalves(lockIdForKey(key));
  return server.admin<{ pid: number; granted: boolean }[]>`
    select pid, granted from pg_locks where locktype = 'advisory' and classid = ${classid}::oid and objid = ${objid}::oid`;
}

t.test('(1) inside the transaction lock, a query on the transaction returns 1', async (t) => {
  const value = await withTransactionLock(sql, { key: uniqueKey('one') }, async (tx, lock) => {
    const [row] = await tx<{ one: number; pid: number }[]>`select 1 as one, pg_backend_pid() as pid`;
    t.equal(row?.pid, lock.backendPid, 'the lock is on the transaction\'s backend');
    return row?.one;
  });
  t.equal(value, 1);
});

t.test('(2) a second transaction lock of the same key inside the first is refused', async (t) => {
  const key = uniqueKey('busy');
  await withTransactionLock(sql, { key }, async () => {
    await t.rejects(withTransactionLock(sql, { key }, () => 'must not run'), { name: 'LockBusyError', code: 'ELOCKED', exitCode: 75 });
    await t.rejects(withTransactionLock(sql, { key }, () => 'must not run'), /held by backend \d+/);
  });
});

t.test('(3) a separate process (pglock itself) cannot take it, and a CLI holder excludes the transaction', async (t) => {
  const key = uniqueKey('cross');
  await withTransactionLock(sql, { key }, async () => {
    const result = await runPglock(['-d', server.url, '-k', key, '-E', '42', '--', 'node', '-e', 'console.log("ran")']);
    t.equal(result.code, 42, 'the CLI finds the key busy');
    t.equal(result.stdout.length, 0);
  });
  const holder = startPglock(['-d', server.url, '-k', key, '-v', '--', 'sleep', '30']);
  t.teardown(() => holder.child.kill('SIGTERM'));
  await holder.waitForStderr(/running sleep/);
  await t.rejects(withTransactionLock(sql, { key }, () => 'must not run'), {
    name: 'LockBusyError', message: new RegExp(`held by pglock on ${hostname()}`),
  });
  holder.child.kill('SIGTERM');
  await holder.result;
});

t.test('the lock ends exactly with the transaction: commit, rollback, busy', async (t) => {
  const key = uniqueKey('lifetime');
  await withTransactionLock(sql, { key }, async () => {
    t.equal((await advisoryRows(key)).length, 1, 'held inside');
  });
  t.same(await advisoryRows(key), [], 'gone after commit');
  await t.rejects(withTransactionLock(sql, { key }, async (tx) => {
    await tx`create temporary table rolled_back (n int)`;
    throw new Error('boom');
  }), { message: 'boom' });
  t.same(await advisoryRows(key), [], 'gone after rollback');
  const [table] = await sql`select to_regclass('rolled_back') as t`;
  t.equal(table?.t, null, 'the transaction really rolled back');
});

t.test('wait: granted the moment the holder commits; a timeout gives LockTimeoutError; lock_timeout is put back', async (t) => {
  const key = uniqueKey('wait');
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const holding = withTransactionLock(sql, { key }, () => gate);
  await sleep(100);
  await t.rejects(withTransactionLock(sql, { key, timeoutMs: 300 }, () => 'no'), LockTimeoutError);
  const order: string[] = [];
  const waiting = withTransactionLock(sql, { key, timeoutMs: 20_000 }, async (tx) => {
    order.push('granted');
    const [row] = await tx<{ lock_timeout: string }[]>`select current_setting('lock_timeout') as lock_timeout`;
    return row?.lock_timeout;
  });
  await sleep(200);
  t.same((await advisoryRows(key)).map((row) => row.granted).sort(), [false, true], 'queued on the server');
  order.push('released');
  release();
  await holding;
  const setting = await waiting;
  t.same(order, ['released', 'granted']);
  const [plain] = await sql<{ lock_timeout: string }[]>`select current_setting('lock_timeout') as lock_timeout`;
  t.equal(setting, plain?.lock_timeout, 'the application\'s statements see its own lock_timeout, not the wait\'s');
});

t.test('bad input is a UsageError with one line', async (t) => {
  await t.rejects(withTransactionLock({} as never, { key: 'k' }, () => 1), { name: 'UsageError', message: /needs a postgres.js client .*got object/ });
  await t.rejects(withTransactionLock(null as never, { key: 'k' }, () => 1), UsageError);
  await withTransactionLock(sql, { key: uniqueKey('tx-as-client') }, async (tx) => {
    await t.rejects(withTransactionLock(tx as never, { key: 'k' }, () => 1), { name: 'UsageError', message: /without begin/ });
  });
  await t.rejects(withTransactionLock(sql, {}, () => 1), UsageError);
  await t.rejects(withTransactionLock(sql, { key: 'k' }, undefined as never), UsageError);
  const ended = postgres(server.url, { max: 1, onnotice: () => {} });
  await ended.end();
  await t.rejects(withTransactionLock(ended, { key: 'k' }, () => 1), { name: 'UsageError', message: /has been ended/ });
});

if (findPgbouncer() === undefined) {
  t.comment('the PgBouncer part needs pgbouncer (apt-get install pgbouncer; .ci/run installs it)');
} else {
  t.test('through PgBouncer in transaction mode: the lock holds for the transaction and excludes direct holders', async (t) => {
    const bouncer = await startPgbouncer(server, 'transaction');
    t.teardown(() => bouncer.stop());
    const pooled = postgres(bouncer.url, { max: 3, prepare: false, onnotice: () => {} });
    t.teardown(() => pooled.end({ timeout: 1 }));
    const key = uniqueKey('bouncer');
    await withTransactionLock(pooled, { key }, async (tx, lock) => {
      const rows = await advisoryRows(key);
      t.same(rows, [{ pid: lock.backendPid, granted: true }], 'held by the server connection PgBouncer gave the transaction');
      for (let i = 0; i < 3; i++) {
        const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
        t.equal(row?.pid, lock.backendPid, 'every statement of the transaction runs there');
      }
      await t.rejects(withTransactionLock(pooled, { key }, () => 'no'), LockBusyError, 'a second pooled transaction is refused');
      const cli = await runPglock(['-d', server.url, '-k', key, '-E', '42', '--', 'true']);
      t.equal(cli.code, 42, 'a direct CLI holder is refused');
    });
    t.same(await advisoryRows(key), [], 'gone with the commit');
    const holder = startPglock(['-d', server.url, '-k', key, '-v', '--', 'sleep', '30']);
    t.teardown(() => holder.child.kill('SIGTERM'));
    await holder.waitForStderr(/running sleep/);
    await t.rejects(withTransactionLock(pooled, { key }, () => 'no'), LockBusyError, 'a direct holder excludes a pooled transaction');
    const waited = withTransactionLock(pooled, { key, timeoutMs: 20_000 }, () => 'ran after the CLI');
    await sleep(200);
    holder.child.kill('SIGTERM');
    await holder.result;
    t.equal(await waited, 'ran after the CLI', 'a pooled waiter is granted when the CLI releases');
  });
}
