// The library API against a real server: the original design's three tests, then the rest.
import { hostname } from 'node:os';
import t from 'tap';
import { acquireLock, withLock, LockBusyError, LockTimeoutError, LockWaitAbortedError, DatabaseUnavailableError, LockLostError, lockIdForKey } from '../src/index.js';
import { freePort, startTestServer, uniqueKey } from './helpers/server.js';
import { eventually, runPglock } from './helpers/run-pglock.js';

const server = await startTestServer(t);
const url = server.url;

async function advisoryRows(key: string) {
  const { classid, objid } = halves(lockIdForKey(key));
  return server.admin`select pid, granted from pg_locks where locktype = 'advisory' and classid = ${classid}::oid and objid = ${objid}::oid`;
}
function halves(id: bigint) {
  const u = BigInt.asUintN(64, id);
  return { classid: String(u >> 32n), objid: String(u & 0xffffffffn) };
}

t.test('(1) inside the lock, a query on the locked connection returns 1', async (t) => {
  await using lock = await acquireLock({ url, key: uniqueKey('one') });
  const [row] = await lock.sql`select 1 as one`;
  t.equal(row?.one, 1);
  t.equal(lock.isHeld, true);
});

t.test('(2) a second acquisition of the same key while held fails with the busy error', async (t) => {
  const key = uniqueKey('busy');
  await using first = await acquireLock({ url, key });
  await t.rejects(acquireLock({ url, key }), LockBusyError);
  await t.rejects(acquireLock({ url, key }), { name: 'LockBusyError', exitCode: 75, code: 'ELOCKED' });
  t.equal(first.isHeld, true, 'the holder still holds it');
});

t.test('(3) a separate process (pglock itself) cannot take a lock held in-process', async (t) => {
  const key = uniqueKey('cross-process');
  await using lock = await acquireLock({ url, key });
  const result = await runPglock(['-d', url, '-k', key, '-E', '42', '--', 'node', '-e', 'console.log("ran")']);
  t.equal(result.code, 42, 'pglock reports the conflict with its -E code');
  t.equal(result.stdout.length, 0, 'the command did not run');
  t.match(result.stderr, `held by pglock on ${hostname()} (pid ${process.pid})`, 'the holder, an in-process lock, is named by its application_name');
  t.equal(lock.isHeld, true);
});

t.test('withLock releases after the function, even when it throws', async (t) => {
  const key = uniqueKey('with');
  const value = await withLock({ url, key }, async (lock) => (await lock.sql`select 41 + 1 as n`)[0]?.n);
  t.equal(value, 42);
  await t.rejects(withLock({ url, key }, () => { throw new Error('boom'); }), { message: 'boom' });
  t.same(await advisoryRows(key), [], 'nothing left in pg_locks');
  await using again = await acquireLock({ url, key });
  t.ok(again.isHeld, 'the key is free again');
});

t.test('release is idempotent and frees the key at once', async (t) => {
  const key = uniqueKey('release');
  const lock = await acquireLock({ url, key });
  t.equal((await advisoryRows(key)).length, 1);
  await lock.release();
  await lock.release();
  t.equal(lock.isHeld, false);
  t.throws(() => lock.sql, LockLostError, 'the connection is not handed out after release');
  t.same(await advisoryRows(key), []);
});

t.test('wait: granted server-side the moment the holder releases', async (t) => {
  const key = uniqueKey('wait');
  const holder = await acquireLock({ url, key });
  const order: string[] = [];
  const waiter = acquireLock({ url, key, wait: true }).then((lock) => (order.push('granted'), lock));
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.same(await advisoryRows(key).then((rows) => rows.map((r) => r.granted).sort()), [false, true], 'the waiter is queued on the server');
  order.push('released');
  await holder.release();
  const lock = await waiter;
  t.same(order, ['released', 'granted']);
  await lock.release();
});

t.test('timeout: gives up with LockTimeoutError and leaves no waiter behind', async (t) => {
  const key = uniqueKey('timeout');
  await using holder = await acquireLock({ url, key });
  const started = Date.now();
  await t.rejects(acquireLock({ url, key, timeoutMs: 300 }), LockTimeoutError);
  t.ok(Date.now() - started >= 250, 'waited about the timeout');
  t.equal((await advisoryRows(key)).length, 1, 'only the holder remains');
  t.ok(holder.isHeld);
});

t.test('an AbortSignal cancels the wait and leaves no waiter queued', async (t) => {
  const key = uniqueKey('abort');
  await using holder = await acquireLock({ url, key });
  const controller = new AbortController();
  const waiting = acquireLock({ url, key, wait: true, signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 200));
  controller.abort();
  await t.rejects(waiting, LockWaitAbortedError);
  t.equal((await advisoryRows(key)).length, 1, 'only the holder remains');
  t.ok(holder.isHeld);
});

t.test('lockId and shared locks', async (t) => {
  const lockId = 987654321987654321n;
  await using byId = await acquireLock({ url, lockId });
  t.equal(byId.id, lockId);
  await t.rejects(acquireLock({ url, lockId }), LockBusyError);
  await t.rejects(acquireLock({ url, key: 'x', lockId: 1n }), { name: 'UsageError' });
  await t.rejects(acquireLock({ url }), { name: 'UsageError' });
  const key = uniqueKey('shared');
  await using a = await acquireLock({ url, key, shared: true });
  await using b = await acquireLock({ url, key, shared: true });
  t.ok(a.isHeld && b.isHeld, 'shared holders coexist');
  await t.rejects(acquireLock({ url, key }), LockBusyError, 'an exclusive holder is refused');
});

t.test('losing the session is reported: lost resolves, the signal aborts', async (t) => {
  const key = uniqueKey('lost');
  let called: LockLostError | undefined;
  const lock = await acquireLock({ url, key, onLost: (error) => (called = error) });
  await server.admin`select pg_terminate_backend(${lock.backendPid})`;
  const error = await lock.lost;
  t.type(error, LockLostError);
  t.match(error.message, /connection closed/);
  t.equal(called, error);
  t.equal(lock.signal.aborted, true);
  t.equal(lock.isHeld, false);
  t.throws(() => lock.sql, LockLostError);
  await lock.release();
});

t.test('onConnecting: called once per connection attempt, as soon as its socket is connecting, before the grant', async (t) => {
  const events: string[] = [];
  const locking = acquireLock({ url, key: uniqueKey('connecting'), onConnecting: () => events.push('connecting') });
  events.push('acquire called');
  await using lock = await locking;
  events.push('granted');
  t.same(events, ['acquire called', 'connecting', 'granted'], 'asynchronous, and before the lock is granted');
  t.equal(lock.isHeld, true);
  // A refused connection is retried: one call per attempt.
  let attempts = 0;
  const refused = `postgres://u:p@127.0.0.1:${await freePort()}/db`;
  await t.rejects(acquireLock({ url: refused, key: 'k', connectTimeoutMs: 400, onConnecting: () => attempts++ }), DatabaseUnavailableError);
  t.ok(attempts >= 2, `called for every try against a refusing port (${attempts})`);
});

t.test('connection failures are DatabaseUnavailableError, without the password', async (t) => {
  const wrong = url.replace(server.password, 'not-the-password');
  const error = await acquireLock({ url: wrong, key: 'k' }).catch((e: unknown) => e);
  t.type(error, DatabaseUnavailableError);
  t.match((error as Error).message, /authentication failed/);
  t.notMatch((error as Error).message, /not-the-password/);
});

t.test('the lock session switches off role timeouts and sets keepalives from the heartbeat', async (t) => {
  await using lock = await acquireLock({ url, key: uniqueKey('settings'), heartbeatMs: 2000 });
  const [row] = await lock.sql`
    select current_setting('statement_timeout') as statement_timeout,
      current_setting('lock_timeout') as lock_timeout,
      current_setting('idle_in_transaction_session_timeout') as idle_in_tx,
      current_setting('idle_session_timeout') as idle_session,
      current_setting('tcp_keepalives_idle') as ka_idle,
      current_setting('tcp_keepalives_interval') as ka_interval,
      current_setting('tcp_keepalives_count') as ka_count,
      current_setting('tcp_user_timeout') as user_timeout,
      current_setting('client_connection_check_interval') as check_interval,
      current_setting('application_name') as app`;
  t.match(row, {
    statement_timeout: '0', lock_timeout: '0', idle_in_tx: '0', idle_session: '0',
    ka_idle: '2', ka_interval: '2', ka_count: '2', user_timeout: '4000', check_interval: '2s',
    app: /^pglock:test:settings:[0-9a-f]+@.+:\d+$/,
  });
});

t.test('application_name keeps host and pid whole, truncating a long key to 63 bytes', async (t) => {
  const { defaultApplicationName } = await import('../src/connection/application-name.js');
  const name = defaultApplicationName('k'.repeat(200));
  t.ok(Buffer.byteLength(name) <= 63, `${Buffer.byteLength(name)} bytes`);
  t.match(name, new RegExp(`@[^@]+:${process.pid}$`));
  t.match(defaultApplicationName('ключ'), /^pglock:\?{4}@/, 'non-ASCII becomes ? rather than a server-side escape');
});

t.test('a limit out of range is a usage error, before any connection', async (t) => {
  await t.rejects(acquireLock({ url, key: 'k', limit: 0 }), { name: 'UsageError', exitCode: 64 });
  await t.rejects(acquireLock({ url, key: 'k', limit: 1001 }), { name: 'UsageError', exitCode: 64 });
  await t.rejects(acquireLock({ url, key: 'k', limit: 2, shared: true }), { name: 'UsageError', exitCode: 64 });
});

t.test('library: a limit and a fencing token', async (t) => {
  const key = uniqueKey('lib-limit');
  const a = await acquireLock({ url, key, limit: 2, fencingToken: true });
  const b = await acquireLock({ url, key, limit: 2, fencingToken: true });
  t.same([a.slot, b.slot].sort(), [0, 1], 'two holders, one slot each');
  t.ok(b.fencingToken! > a.fencingToken!, `tokens grow: ${a.fencingToken} then ${b.fencingToken}`);
  const busy = await acquireLock({ url, key, limit: 2 }).catch((error: unknown) => error);
  t.ok(busy instanceof LockBusyError, 'a third is refused');
  t.equal((busy as LockBusyError).holders.length, 2, 'and told who holds both slots');
  await a.release();
  await using c = await acquireLock({ url, key, limit: 2 });
  t.equal(c.slot, a.slot, 'the freed slot is taken');
  await b.release();
});

// Issue 30's decision: the top-level functions keep no process-wide connection. Each call has a
// connection of its own, closed when it is done; a lock session (openLockSession) is the explicit
// warm path.
t.test('withLock: a connection of its own per call, none kept: resolved at the confirmed unlock, its backend gone right after', async (t) => {
  const key = uniqueKey('own');
  const pids: number[] = [];
  for (let i = 0; i < 2; i++) pids.push(await withLock({ url, key }, async (lock) => (await lock.sql<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid));
  t.not(pids[0], pids[1], 'two calls, two backends');
  t.same(await advisoryRows(key), [], 'nothing held once withLock has resolved');
  await eventually(async () => (await server.admin`select 1 from pg_stat_activity where pid = any(${pids})`).length === 0, 5000, 'the backends to exit');
  t.pass('both backends exited: no connection is kept for later calls');
});
