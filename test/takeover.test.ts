// The takeover delay in the library (docs/safety.md): a holder cut off without releasing (its backend
// terminated) leaves its row in the holder record; the next holder holds the lock but returns it
// (acquire resolves, onLeading runs) only after the cut-off holder's bound. A clean release leaves
// nothing, and the next holder does not wait. Order of events is asserted, with generous bounds.
import net from 'node:net';
import t from 'tap';
import {
  type Lock, type TakeoverDelay, acquireLock, withLock, elect, openLockSession, DatabaseUnavailableError, UsageError, HOLDERS_TABLE,
} from '../src/index.js';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { runPglock } from './helpers/run-pglock.js';

const server = await startTestServer(t);
const url = server.url;
const terminate = (pid: number) => server.admin.unsafe(`select pg_terminate_backend(${pid})`);
/** A holder of `key` whose backend is terminated: its lock is lost, and its row says it was cut off. */
async function cutOff(key: string, bounds: { heartbeatMs: number; stopWithinMs: number }): Promise<void> {
  const holder = await acquireLock({ url, key, ...bounds });
  await terminate(holder.backendPid);
  await holder.lost;
}
const holderRows = (key: string) => server.admin.unsafe(`select backend_pid, bound_ms::int as bound from ${HOLDERS_TABLE} where key = $1`, [key]);

t.test('a holder cut off: the next waits out its bound before acquire resolves', async (t) => {
  const key = uniqueKey('cut');
  const events: string[] = [];
  const first = await acquireLock({ url, key, heartbeatMs: 300, stopWithinMs: 900, onLost: () => events.push('first lost') });
  t.same((await holderRows(key)).map((row) => row.bound), [1500], 'the holder recorded its bound: 2 heartbeats + stopWithinMs');
  const delays: TakeoverDelay[] = [];
  const next = acquireLock({ url, key, wait: true, heartbeatMs: 300, onDelay: (delay) => delays.push(delay) })
    .then((lock) => (events.push('next acquired'), lock));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const cutAt = Date.now();
  await terminate(first.backendPid);
  const lock = await next;
  const waited = Date.now() - cutAt;
  t.same(events, ['first lost', 'next acquired'], 'the cut-off holder knew it lost the lock before the next one had it');
  t.ok(waited >= 1400, `acquire resolved only after the cut-off holder's bound (${waited} ms)`);
  t.equal(delays.length, 1, 'onDelay was told once');
  t.match(delays[0]?.message, new RegExp(`the previous holder \\(pid ${process.pid} on .+, backend ${first.backendPid}\\) of the lock '${key}' .* was cut off without releasing it; waiting`));
  t.equal(delays[0]?.cutOff?.boundMs, 1500);
  await lock.release();
  t.same((await holderRows(key)).map((row) => row.bound), [0], 'a clean release marks its row released (bound 0), settled by the next holder');
});

t.test('a clean release: the next holder does not wait', async (t) => {
  const key = uniqueKey('clean');
  const first = await acquireLock({ url, key, heartbeatMs: 5000, stopWithinMs: 30_000 });
  const delays: TakeoverDelay[] = [];
  const next = acquireLock({ url, key, wait: true, onDelay: (delay) => delays.push(delay) });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const releasedAt = Date.now();
  await first.release();
  const lock = await next;
  t.ok(Date.now() - releasedAt < 5000, 'the waiter got it at once, not after the 40 s bound');
  t.same(delays, [], 'no delay');
  await lock.release();
  const fresh = await acquireLock({ url, key, onDelay: (delay) => delays.push(delay) });
  t.same(delays, [], 'nor for a fail-fast holder after it');
  await fresh.release();
});

t.test('lockDelay 0: no wait, and the record is still kept for holders after it', async (t) => {
  const key = uniqueKey('zero');
  await cutOff(key, { heartbeatMs: 1000, stopWithinMs: 4000 });
  const started = Date.now();
  const delays: TakeoverDelay[] = [];
  const second = await acquireLock({ url, key, lockDelay: 0, heartbeatMs: 200, onDelay: (delay) => delays.push(delay) });
  t.ok(Date.now() - started < 5000, `lockDelay 0 did not wait the 6 s bound (${Date.now() - started} ms)`);
  t.same(delays, []);
  t.equal((await holderRows(key)).length, 1, 'its own row is kept');
  await terminate(second.backendPid);
  await second.lost;
  const third = await acquireLock({ url, key, onDelay: (delay) => delays.push(delay) });
  t.equal(delays.length, 1, 'a holder after it waits for it (and for the first cut-off, still within its bound)');
  t.ok(delays[0]!.delayMs > 4000, `the first cut-off's 6 s still stands, not only the second's own 0.4 s (${delays[0]!.delayMs} ms)`);
  await third.release();
});

t.test('a fixed lockDelay replaces the recorded bound', async (t) => {
  const key = uniqueKey('fixed');
  await cutOff(key, { heartbeatMs: 5000, stopWithinMs: 60_000 });
  const started = Date.now();
  const delays: TakeoverDelay[] = [];
  const lock = await acquireLock({ url, key, heartbeatMs: 200, lockDelay: 1000, onDelay: (delay) => delays.push(delay) });
  t.ok(Date.now() - started >= 900, 'waited about the fixed delay');
  t.ok(delays[0]!.delayMs <= 1000, `not the holder's own 70 s (${delays[0]!.delayMs} ms)`);
  await lock.release();
  const after = await acquireLock({ url, key, heartbeatMs: 200, lockDelay: 1000, onDelay: (delay) => delays.push(delay) });
  t.equal(delays.length, 1, 'after a clean release, a fixed delay does not wait');
  await after.release();
});

t.test('settings that cannot keep the promise are refused before connecting', async (t) => {
  const nowhere = 'postgres://u@127.0.0.1:1/db';
  await t.rejects(acquireLock({ url: nowhere, key: 'k', heartbeatMs: 0 }), { name: 'UsageError', message: /heartbeatMs 0 never notices a silent network cut/ });
  await t.rejects(acquireLock({ url: nowhere, key: 'k', heartbeatMs: 1000, stopWithinMs: 5000, lockDelay: 3000 }),
    { name: 'UsageError', message: /lockDelay 3s is shorter than this holder's own bound \(7s: 2s to notice a lost lock, 5s to stop\)/ });
  await t.rejects(acquireLock({ url: nowhere, key: 'k', lockDelay: -1 }), UsageError);
  await t.rejects(openLockSession({ url: nowhere, heartbeatMs: 0 }), UsageError);
  t.throws(() => elect({ url: nowhere, key: 'k', heartbeatMs: 0, onLeading: () => {} }), UsageError);
  const short = await runPglock(['-d', nowhere, '-k', 'k', '--heartbeat', '1s', '--kill-after', '5s', '--primary-check', '0', '--lock-delay', '3s', '--', 'true']);
  t.equal(short.code, 64, 'the CLI: a --lock-delay shorter than the run\'s bound is a usage error');
  t.match(short.stderr, /^pglock: error: --lock-delay 3s is shorter than this holder's own bound \(8.5s: 2s to notice a lost lock, 6.5s to stop\)[^\n]*\n$/);
  const zero = await runPglock(['-d', nowhere, '-k', 'k', '--heartbeat', '0', '--', 'true']);
  t.equal(zero.code, 64);
  t.match(zero.stderr, /^pglock: error: --heartbeat 0 never notices a silent network cut.*\(--lock-delay 0\)\n$/);
  t.equal((await runPglock(['-d', url, '-k', uniqueKey('hb0-cli'), '--heartbeat', '0', '--lock-delay', '0', '--', 'true'])).code, 0, 'with --lock-delay 0 it runs');
  const lock = await acquireLock({ url, key: uniqueKey('hb0'), heartbeatMs: 0, lockDelay: 0 });
  t.ok(lock.isHeld, 'heartbeat 0 is allowed with the delay off');
  await lock.release();
});

t.test('a lock session cut off: the next holder of its key waits; its clean sections cost nothing', async (t) => {
  const key = uniqueKey('session');
  const session = await openLockSession({ url, heartbeatMs: 300, stopWithinMs: 600 });
  const delays: TakeoverDelay[] = [];
  for (let i = 0; i < 3; i++) await session.withLock({ key }, () => undefined);
  const clean = await acquireLock({ url, key, onDelay: (delay) => delays.push(delay) });
  t.same(delays, [], 'after clean sections: no delay');
  await clean.release();
  const held = await session.acquire({ key });
  await terminate(session.backendPid!);
  await held.lost;
  const started = Date.now();
  const next = await acquireLock({ url, key, onDelay: (delay) => delays.push(delay) });
  t.ok(Date.now() - started >= 1000, `waited the session's bound, 1.2 s (${Date.now() - started} ms)`);
  t.equal(delays.length, 1);
  await next.release();
  await session.close();
});

t.test('a lock session takes over from a cut-off holder only after its bound', async (t) => {
  const key = uniqueKey('session-next');
  await cutOff(key, { heartbeatMs: 300, stopWithinMs: 700 });
  const delays: TakeoverDelay[] = [];
  const session = await openLockSession({ url, onDelay: (delay) => delays.push(delay) });
  const started = Date.now();
  const entered = await session.withLock({ key }, () => Date.now());
  t.ok(entered - started >= 1100, `the section began only after the cut-off holder's bound, 1.3 s (${entered - started} ms)`);
  t.equal(delays.length, 1, 'onDelay was told');
  await session.close();
});

t.test('elect: three electors in one process, the leader cut off six times, never two terms at once', async (t) => {
  const key = uniqueKey('elect');
  const log: { who: number; event: 'start' | 'end'; at: number }[] = [];
  const locks = new Map<number, Lock>();
  const electors = [0, 1, 2].map((who) => elect({
    url, key, heartbeatMs: 200, stopWithinMs: 100, retry: { minDelayMs: 20, maxDelayMs: 100 },
    onLeading: async (signal, lock) => {
      log.push({ who, event: 'start', at: performance.now() });
      locks.set(who, lock);
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      log.push({ who, event: 'end', at: performance.now() });
    },
  }));
  for (let round = 0; round < 6; round++) {
    while (log.filter((e) => e.event === 'start').length <= round) await new Promise((resolve) => setTimeout(resolve, 20));
    const leader = log.filter((e) => e.event === 'start').at(-1)!.who;
    await terminate(locks.get(leader)!.backendPid);
  }
  while (log.filter((e) => e.event === 'start').length < 7) await new Promise((resolve) => setTimeout(resolve, 20));
  await Promise.all(electors.map((election) => election.stop()));
  let leading = 0;
  let most = 0;
  for (const event of log) {
    leading += event.event === 'start' ? 1 : -1;
    most = Math.max(most, leading);
  }
  t.equal(most, 1, `never two onLeading at once (${log.map((e) => `${e.who}:${e.event}`).join(' ')})`);
});

t.test('a role that cannot keep the record: auto goes on without the delay and says so; a fixed delay is refused', async (t) => {
  const role = `pglock_plain_${process.pid}`;
  await server.admin.unsafe(`drop table if exists ${HOLDERS_TABLE}`);
  await server.admin.unsafe(`drop function if exists public.pglock_claim`);
  await server.admin.unsafe(`create role ${role} login password 'pw'`);
  await server.admin.unsafe(`revoke create on schema public from public`);
  t.teardown(async () => {
    await server.admin.unsafe(`drop owned by ${role}`);
    await server.admin.unsafe(`drop role ${role}`);
  });
  const plain = new URL(url);
  plain.username = role;
  plain.password = 'pw';
  const said: string[] = [];
  const lock = await acquireLock({ url: plain.href, key: uniqueKey('plain'), onRecordUnavailable: (reason) => said.push(reason) });
  t.ok(lock.isHeld, 'the lock is held');
  t.equal(said.length, 1, 'told once');
  t.match(said[0], /the takeover delay is off for the lock .*: pglock cannot keep its holder record \(permission denied for schema public\)/);
  await lock.release();
  await t.rejects(acquireLock({ url: plain.href, key: uniqueKey('plain-fixed'), heartbeatMs: 500, lockDelay: 5000 }),
    { name: 'DatabaseUnavailableError', code: 'EHOLDERS', exitCode: 69 });
  t.ok(DatabaseUnavailableError);
});

t.test('withTransactionLock waits out a cut-off holder before fn runs, and records nothing itself', async (t) => {
  const { withTransactionLock } = await import('../src/index.js');
  const postgres = (await import('postgres')).default;
  const app = postgres(url, { max: 1, onnotice: () => {} });
  t.teardown(() => app.end({ timeout: 1 }));
  const key = uniqueKey('tx');
  await cutOff(key, { heartbeatMs: 300, stopWithinMs: 700 });
  const started = Date.now();
  const delays: TakeoverDelay[] = [];
  const ranAt = await withTransactionLock(app, { key, onDelay: (delay) => delays.push(delay) }, async (tx) => {
    await tx`select 1`;
    return Date.now();
  });
  t.ok(ranAt - started >= 1100, `fn ran only after the cut-off holder's bound, 1.3 s (${ranAt - started} ms)`);
  t.equal(delays.length, 1);
  t.equal((await holderRows(key)).length, 1, 'the cut-off row is still there (a transaction settles nothing)');
  const told: TakeoverDelay[] = [];
  await withTransactionLock(app, { key, lockDelay: 0, onDelay: (delay) => told.push(delay) }, () => undefined);
  t.same(told, [], 'lockDelay 0: no wait');
  await server.admin.unsafe(`drop function if exists public.pglock_claim`);
  const ok = await withTransactionLock(app, { key: uniqueKey('tx-none') }, async (tx) => (await tx`select 1 as one`)[0]?.one);
  t.equal(ok, 1, 'without the record the transaction is still usable');
});

t.test("a transaction lock's read: nothing to honour returns at once; a cut-off holder is still waited for", async (t) => {
  const { withTransactionLock, lockIdForKey } = await import('../src/index.js');
  const { CLAIM_VERSION } = await import('../src/takeover/objects.js');
  const { installRecord } = await import('../src/takeover/claim.js');
  await installRecord(server.admin); // a test above drops the function
  const postgres = (await import('postgres')).default;
  const app = postgres(url, { max: 1, onnotice: () => {} });
  t.teardown(() => app.end({ timeout: 1 }));
  // The first transaction lock of a client asks whether the record is there; the next ones call
  // the claim function in the lock statement itself.
  await withTransactionLock(app, { key: uniqueKey('tx-known') }, () => undefined);
  const key = uniqueKey('tx-read');
  const call = (record: string) => server.admin.unsafe<{ claim: string }[]>(
    `select public.pglock_claim($1::int8, 0::oid, 0::oid, $2::text, 'h'::text, 1, 1000::int8, -1::int8, ${record}::bool) as claim`, [String(lockIdForKey(key)), key],
  );
  t.equal((await call('false'))[0]?.claim, `{"delayMs": 0, "ahead": false, "version": ${CLAIM_VERSION}}`, 'record false, no row: the short answer');
  const primed = JSON.parse((await call('null'))[0]!.claim) as { delayMs: number; version: number; until?: string };
  t.ok(primed.delayMs === 0 && primed.version === CLAIM_VERSION && primed.until !== undefined, `record null (a waiter's call before it queues) runs it all: ${JSON.stringify(primed)}`);
  t.same(await holderRows(key), [], 'and neither wrote a row');

  await cutOff(key, { heartbeatMs: 300, stopWithinMs: 700 });
  const started = Date.now();
  const delays: TakeoverDelay[] = [];
  const ranAt = await withTransactionLock(app, { key, onDelay: (delay) => delays.push(delay) }, () => Date.now());
  t.ok(ranAt - started >= 1100, `fn ran only after the cut-off holder's bound, 1.3 s (${ranAt - started} ms)`);
  t.equal(delays.length, 1, 'and said so');
});

t.test('a warm lock session whose claim function is dropped takes its locks on, and records again', async (t) => {
  const session = await openLockSession({ url });
  t.teardown(() => session.close());
  const key = uniqueKey('session-drop');
  // The first section claims in a statement of its own, the next ones in the try statement itself.
  for (let i = 0; i < 3; i++) await session.withLock({ key }, () => undefined);
  await server.admin.unsafe('drop function if exists public.pglock_claim');
  const held = await session.acquire({ key });
  t.ok(held.isHeld, 'the lock is taken');
  const rows = await holderRows(key);
  t.ok(rows.length === 1 && rows[0]!.bound > 0, `the holder record is written again, the function created anew (${JSON.stringify(rows)})`);
  await held.release();
  t.same((await holderRows(key)).map((row) => row.bound), [0], 'and marked released');
  const other = await acquireLock({ url, key });
  t.ok(other.isHeld, 'nothing was left held by the failed statement');
  await other.release();
});

t.test('a lock\'s own connection claims in the setup\'s own message; with the record dropped, it falls back', async (t) => {
  const key = uniqueKey('own-drop');
  await withLock({ url, key }, () => undefined);
  // What the client writes: its simple-protocol query messages.
  const queries: string[] = [];
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
    if (Buffer.isBuffer(chunk) && chunk[0] === 0x51) queries.push(chunk.toString('utf8', 5));
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof write;
  const merged = await acquireLock({ url, key }).finally(() => (net.Socket.prototype.write = write));
  t.equal(queries.length, 1, 'one query message');
  t.match(queries[0], /pg_try_advisory_lock[\s\S]*;\s*with held as materialized/, 'setup and claim went as one message');
  t.ok((await holderRows(key)).some((row) => row.bound > 0), 'its row is written');
  await merged.release();
  await server.admin.unsafe(`drop table if exists ${HOLDERS_TABLE}`);
  await server.admin.unsafe('drop function if exists public.pglock_claim');
  const lock = await acquireLock({ url, key });
  t.ok(lock.isHeld, 'the lock is taken');
  const [count] = await server.admin<{ n: number }[]>`select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = ${lock.backendPid}`;
  t.equal(count?.n, 1, 'held once on that backend: the grant of the failed message was given back');
  t.ok((await holderRows(key)).some((row) => row.bound > 0), 'the record was created anew and the row written');
  await lock.release();
  const [after] = await server.admin<{ n: number }[]>`select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = ${lock.backendPid} and granted`;
  t.equal(after?.n ?? 0, 0, 'released: nothing stays held');
  const other = await acquireLock({ url, key });
  t.ok(other.isHeld, 'another connection takes it');
  await other.release();
});

t.test('a holder that did not wait out a cut-off holder (lockDelay 0) and releases cleanly: the next still waits for the cut-off one', async (t) => {
  const key = uniqueKey('zero-release');
  await cutOff(key, { heartbeatMs: 1000, stopWithinMs: 4000 });
  const second = await acquireLock({ url, key, lockDelay: 0 });
  await second.release();
  t.same((await holderRows(key)).map((row) => row.bound), [0], 'its row is kept, released, with the delayed start it did not wait for');
  const delays: TakeoverDelay[] = [];
  const third = await acquireLock({ url, key, onDelay: (delay) => delays.push(delay) });
  t.equal(delays.length, 1, 'the next holder waits');
  t.ok(delays[0]!.delayMs > 3000, `for the first cut-off's window (${delays[0]!.delayMs} ms)`);
  await third.release();
  const fourth = await acquireLock({ url, key, onDelay: (delay) => delays.push(delay) });
  t.equal(delays.length, 1, 'no wait after clean releases');
  await fourth.release();
  const rows = await holderRows(key);
  t.notOk(rows.some((row) => row.backend_pid === fourth.backendPid), 'a clean release with no delayed start ahead leaves no row of its own');
  t.ok(rows.every((row) => row.bound === 0), `every row left is released (${JSON.stringify(rows)})`);
});
