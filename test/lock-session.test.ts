// Lock sessions against a real server: the seed's three tests, then many locks on one connection,
// waits that do not block the session, one heartbeat, loss, close and bad input.
import { hostname } from 'node:os';
import t from 'tap';
import { LockBusyError, LockLostError, LockTimeoutError, LockWaitAbortedError, UsageError, lockIdForKey, openLockSession } from '../src/index.js';
import { lockIdHalves } from '../src/key/lock-id.js';
import { runPglock } from './helpers/run-pglock.js';
import { startTestServer, uniqueKey } from './helpers/server.js';

const server = await startTestServer(t);
const url = server.url;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function advisoryRows(key: string) {
  const { classid, objid } = lockIdHalves(lockIdForKey(key));
  return server.admin<{ pid: number; granted: boolean }[]>`
    select pid, granted from pg_locks where locktype = 'advisory' and classid = ${classid}::oid and objid = ${objid}::oid order by granted desc`;
}

async function backendsOf(applicationName: string): Promise<number> {
  const [row] = await server.admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where application_name = ${applicationName}`;
  return row?.n ?? 0;
}

t.test('(1) inside a session lock, a query on the locked connection returns 1', async (t) => {
  await using session = await openLockSession({ url });
  await using lock = await session.acquire({ key: uniqueKey('one') });
  const [row] = await lock.sql`select 1 as one`;
  t.equal(row?.one, 1);
  t.equal(lock.isHeld, true);
  t.equal(lock.backendPid, session.backendPid, 'on the session\'s own connection');
});

t.test('(2) a second acquisition of the same key while held is refused: in the same session, and from another session', async (t) => {
  const key = uniqueKey('busy');
  await using session = await openLockSession({ url });
  await using other = await openLockSession({ url });
  await using first = await session.acquire({ key });
  await t.rejects(session.acquire({ key }), { name: 'LockBusyError', exitCode: 75, code: 'ELOCKED', message: /held by this lock session already/ }, 'the same session: its locks do not stack');
  await t.rejects(other.acquire({ key }), LockBusyError, 'another session in this process');
  await t.rejects(other.acquire({ key }), { message: new RegExp(`held by pglock on ${hostname()} \\(pid ${process.pid}\\)`) });
  t.equal(first.isHeld, true, 'the holder still holds it');
  t.same((await advisoryRows(key)).map((row) => row.pid), [session.backendPid], 'one lock on the server, not two stacked');
});

t.test('(3) a separate process (pglock itself) cannot take a lock held on a session', async (t) => {
  const key = uniqueKey('cross-process');
  await using session = await openLockSession({ url });
  await using lock = await session.acquire({ key });
  const result = await runPglock(['-d', url, '-k', key, '-E', '42', '--', 'node', '-e', 'console.log("ran")']);
  t.equal(result.code, 42, 'pglock reports the conflict with its -E code');
  t.equal(result.stdout.length, 0, 'the command did not run');
  t.match(result.stderr, `held by pglock on ${hostname()} (pid ${process.pid})`);
  t.ok(lock.isHeld);
});

t.test('many locks on one session: one backend, no connection per critical section', async (t) => {
  const name = `pglock-test-many-${process.pid}`;
  await using session = await openLockSession({ url, applicationName: name });
  const keys = Array.from({ length: 20 }, (_, i) => uniqueKey(`many-${i}`));
  const locks = await Promise.all(keys.map((key) => session.acquire({ key })));
  t.ok(locks.every((lock) => lock.backendPid === session.backendPid), 'every lock on the session\'s backend');
  t.equal(await backendsOf(name), 1, 'one backend for twenty locks');
  t.equal(session.locks.length, 20);
  for (let i = 0; i < 50; i++) await session.withLock({ key: keys[0]! + '-again' }, () => undefined);
  t.equal(await backendsOf(name), 1, 'fifty more sections, still one backend');
  await Promise.all(locks.map((lock) => lock.release()));
  t.same(await advisoryRows(keys[0]!), [], 'released');
  t.equal(session.locks.length, 0);
});

t.test('a wait for a busy key waits on its own connection: the session\'s other locks and its heartbeat go on', async (t) => {
  const key = uniqueKey('wait');
  await using holder = await openLockSession({ url });
  const held = await holder.acquire({ key });
  const lost: string[] = [];
  await using session = await openLockSession({ url, heartbeatMs: 200, onLost: (error) => lost.push(error.message) });
  const order: string[] = [];
  const waiting = session.acquire({ key, wait: true }).then((lock) => (order.push('granted'), lock));
  await sleep(300);
  t.same((await advisoryRows(key)).map((row) => row.granted), [true, false], 'the waiter is queued on the server');
  const started = Date.now();
  await using other = await session.acquire({ key: uniqueKey('other') });
  t.ok(Date.now() - started < 2000, 'another lock on the same session is taken while the wait goes on');
  t.equal(other.backendPid, session.backendPid);
  await sleep(700);
  t.same(lost, [], 'several heartbeats passed, nothing lost');
  order.push('released');
  await held.release();
  const lock = await waiting;
  t.same(order, ['released', 'granted'], 'granted the moment the holder released');
  t.not(lock.backendPid, session.backendPid, 'the waited-for lock stays on the connection that waited');
  const [row] = await lock.sql<{ pid: number }[]>`select pg_catalog.pg_backend_pid() as pid`;
  t.equal(row?.pid, lock.backendPid, 'lock.sql is that connection');
  await sleep(500);
  t.ok(lock.isHeld, 'the session\'s heartbeat proves it without trouble');
  await server.admin`select pg_terminate_backend(${lock.backendPid})`;
  await Promise.race([lock.lost, sleep(5000)]);
  t.equal(lock.isHeld, false, 'terminating the waiter\'s connection loses that lock');
  t.ok(other.isHeld, 'the session\'s own locks are untouched');
  t.match(lost, [/lost the lock/], 'onLost was told');
});

t.test('the same key twice in one session with wait: the second waits for the first, in this process', async (t) => {
  const key = uniqueKey('local-wait');
  await using session = await openLockSession({ url });
  const first = await session.acquire({ key });
  const order: string[] = [];
  const second = session.acquire({ key, wait: true }).then((lock) => (order.push('second granted'), lock));
  await sleep(200);
  order.push('first released');
  await first.release();
  const lock = await second;
  t.same(order, ['first released', 'second granted']);
  t.equal(lock.backendPid, session.backendPid, 'taken on the session itself');
  await t.rejects(session.acquire({ key, timeoutMs: 200 }), LockTimeoutError, 'a timeout on an in-process wait');
  const controller = new AbortController();
  const aborted = session.acquire({ key, wait: true, signal: controller.signal });
  controller.abort();
  await t.rejects(aborted, LockWaitAbortedError);
  await lock.release();
  t.same(await advisoryRows(key), []);
});

t.test('timeouts and aborts of a server-side wait leave no waiter behind', async (t) => {
  const key = uniqueKey('timeout');
  await using holder = await openLockSession({ url });
  await using _held = await holder.acquire({ key });
  await using session = await openLockSession({ url });
  const started = Date.now();
  await t.rejects(session.acquire({ key, timeoutMs: 300 }), LockTimeoutError);
  t.ok(Date.now() - started >= 250, 'waited about the timeout');
  const controller = new AbortController();
  const waiting = session.acquire({ key, wait: true, signal: controller.signal });
  await sleep(300);
  controller.abort();
  await t.rejects(waiting, LockWaitAbortedError);
  await sleep(100);
  t.equal((await advisoryRows(key)).length, 1, 'only the holder remains');
});

t.test('shared locks: holders in one session and across sessions coexist; an exclusive one is refused', async (t) => {
  const key = uniqueKey('shared');
  await using session = await openLockSession({ url });
  await using other = await openLockSession({ url });
  const a = await session.acquire({ key, shared: true });
  const b = await session.acquire({ key, shared: true });
  const c = await other.acquire({ key, shared: true });
  t.ok(a.isHeld && b.isHeld && c.isHeld);
  await t.rejects(other.acquire({ key: key }), LockBusyError, 'exclusive refused while shared holders hold it');
  await t.rejects(session.acquire({ key }), { message: /held by this lock session already/ });
  await a.release();
  t.equal((await advisoryRows(key)).filter((row) => row.pid === session.backendPid).length, 1, 'still held for the other local shared holder');
  await b.release();
  await c.release();
  t.same(await advisoryRows(key), []);
});

t.test('losing the session\'s connection loses every lock on it; the next acquire opens a new connection', async (t) => {
  const lost: LockLostError[] = [];
  await using session = await openLockSession({ url, heartbeatMs: 500, onLost: (error) => lost.push(error) });
  const locks = await Promise.all([1, 2, 3].map((i) => session.acquire({ key: uniqueKey(`loss-${i}`) })));
  const before = session.backendPid;
  await server.admin`select pg_terminate_backend(${before!})`;
  await Promise.all(locks.map((lock) => Promise.race([lock.lost, sleep(5000)])));
  t.ok(locks.every((lock) => !lock.isHeld && lock.signal.aborted), 'every lock lost, every signal aborted');
  t.equal(lost.length, 3);
  t.match(String(locks[0]!.signal.reason), /lost the lock .*the database connection closed/);
  t.throws(() => locks[0]!.sql, LockLostError);
  await locks[0]!.release();
  const again = await session.acquire({ key: uniqueKey('loss-after') });
  t.ok(again.isHeld, 'a new lock on a new connection');
  t.not(session.backendPid, before);
  await again.release();
});

t.test('the heartbeat notices a lock that is gone while the connection stays', async (t) => {
  const key = uniqueKey('gone');
  await using session = await openLockSession({ url, heartbeatMs: 200 });
  const lock = await session.acquire({ key });
  const keep = await session.acquire({ key: uniqueKey('keep') });
  // Unlock behind the session's back, on its own connection: the heartbeat must not trust its bookkeeping.
  await lock.sql.unsafe(`select pg_catalog.pg_advisory_unlock(${lockIdForKey(key)})`);
  await Promise.race([lock.lost, sleep(3000)]);
  t.equal(lock.isHeld, false);
  t.match(String(lock.signal.reason), /no longer held by this session/);
  t.ok(keep.isHeld, 'the other lock stays');
});

t.test('close releases everything; a closed session refuses with UsageError', async (t) => {
  const key = uniqueKey('close');
  const session = await openLockSession({ url });
  const lock = await session.acquire({ key });
  const other = await session.acquire({ key: uniqueKey('close-other') });
  const early = other.signal; // made before the loss (a lock's signal and \`lost\` are made when first asked for)
  await session.close();
  t.ok(lock.signal.aborted, 'a lock still held when the session closes is told');
  t.ok(early.aborted && other.signal === early, 'a signal asked for before the loss is the one aborted');
  t.match(String(await Promise.race([lock.lost, sleep(1000).then(() => 'not resolved')])), /lost the lock .*closed/, '`lost`, asked for after the loss, resolves at once');
  t.same(await advisoryRows(key), [], 'nothing left on the server');
  await t.rejects(session.acquire({ key }), { name: 'UsageError', message: /the lock session is closed/ });
  await session.close();
});

t.test('bad input: one clear UsageError; no password in any error', async (t) => {
  await using session = await openLockSession({ url });
  await t.rejects(session.acquire({} as never), UsageError);
  await t.rejects(session.acquire({ key: 'a', lockId: 1n }), { name: 'UsageError', message: 'give a key or a lockId, not both' });
  await t.rejects(session.acquire({ key: '' }), UsageError);
  await t.rejects(session.acquire({ key: 'k', timeoutMs: -1 }), UsageError);
  const wrong = url.replace(`:${server.password}@`, ':not-the-password-4711@');
  const error = await openLockSession({ url: wrong, connectTimeoutMs: 500 }).catch((e: Error) => e);
  t.match(error, { name: 'DatabaseUnavailableError', code: 'EAUTH' });
  t.notMatch((error as Error).message, /not-the-password-4711/);
  t.notMatch((error as Error).message, new RegExp(server.password));
});
