// A lock session's holder rows stay armed between sections (takeover/objects.ts, session/armed.ts):
// a warm section writes nothing; the next holder tells a released lock from a cut-off holder by the
// session's token, a lock its backend holds while it lives; the row is marked released a second
// after the lock was last given back, and at a clean close. Against a real server, with an older
// pglock's record (fixtures/holder-record-before-tokens.sql, and holder-record-before-version.sql)
// brought up to date by the session.
// A server of its own even when PGLOCK_TEST_DATABASE_URL is set: one test drops pglock's objects.
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import t from 'tap';
import { type TakeoverDelay, HOLDERS_TABLE, acquireLock, lockIdForKey, openLockSession } from '../src/index.js';
import { ARMED_LINGER_MS } from '../src/session/armed.js';
import { TOKEN_CLASSID, TOKEN_KEY1 } from '../src/takeover/token.js';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { runPglock } from './helpers/run-pglock.js';
import { startFreezeProxy } from './helpers/freeze-proxy.js';

const server = await startTestServer(t, { own: true });
const url = server.url;
const terminate = (pid: number) => server.admin.unsafe(`select pg_terminate_backend(${pid})`);
type Row = { backend: number; bound: number; token: string | null; version: string };
const rowsOf = async (key: string): Promise<Row[]> => server.admin.unsafe<Row[]>(
  `select backend_pid as backend, bound_ms::int as bound, token::text as token, xmin::text as version from ${HOLDERS_TABLE} where lock_id = $1 order by backend_pid`,
  [String(lockIdForKey(key))],
);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('a warm section writes nothing; a second idle, and a clean close, mark the row released', async (t) => {
  const key = uniqueKey('armed');
  const session = await openLockSession({ url, heartbeatMs: 300, stopWithinMs: 600 });
  t.teardown(() => session.close());
  // The first section on a new database creates pglock's objects on its way (and does not arm).
  await session.withLock({ key }, () => undefined);
  await session.withLock({ key }, () => undefined);
  const [first] = await rowsOf(key);
  t.ok(first && first.bound === 1200 && first.token !== null, `armed: the session's bound and its token (${JSON.stringify(first)})`);
  for (let i = 0; i < 3; i++) await session.withLock({ key }, () => undefined);
  t.same(await rowsOf(key), [first], 'three more sections: the same row version (nothing written)');

  const delays: TakeoverDelay[] = [];
  const other = await acquireLock({ url, key, onDelay: (delay) => delays.push(delay) });
  t.same(delays, [], 'a holder right after a clean release does not wait: the session still holds its token');
  await other.release();
  t.same((await rowsOf(key)).map((row) => row.backend), [session.backendPid], "the session's armed row is left as it is");

  await sleep(ARMED_LINGER_MS + 500);
  t.same((await rowsOf(key)).map((row) => row.bound), [0], 'not taken again for a second: marked released');
  await session.withLock({ key }, () => undefined);
  t.same((await rowsOf(key)).map((row) => row.bound), [1200], 'the next section arms it again');
  await session.close();
  t.same((await rowsOf(key)).map((row) => row.bound), [0], 'a clean close marks it released');
});

t.test('a lock session cut off holding the lock, or within a second of its release: the next holder waits its bound', async (t) => {
  for (const when of ['holding', 'just released'] as const) {
    const key = uniqueKey('armed-cut');
    const session = await openLockSession({ url, heartbeatMs: 300, stopWithinMs: 600 });
    t.teardown(() => session.close());
    const held = await session.acquire({ key });
    if (when === 'just released') await held.release();
    await terminate(session.backendPid!);
    if (when === 'holding') await held.lost;
    const delays: TakeoverDelay[] = [];
    const started = Date.now();
    const next = await acquireLock({ url, key, onDelay: (delay) => delays.push(delay) });
    t.ok(Date.now() - started >= 1000, `${when}: waited the session's 1.2 s bound (${Date.now() - started} ms)`);
    t.equal(delays.length, 1, `${when}: onDelay was told`);
    await next.release();
  }
});

t.test('a lock session cut off after its row was marked released: no wait', async (t) => {
  const key = uniqueKey('armed-idle');
  const session = await openLockSession({ url, heartbeatMs: 300, stopWithinMs: 600 });
  t.teardown(() => session.close());
  await session.withLock({ key }, () => undefined);
  await sleep(ARMED_LINGER_MS + 500);
  await terminate(session.backendPid!);
  const delays: TakeoverDelay[] = [];
  const next = await acquireLock({ url, key, onDelay: (delay) => delays.push(delay) });
  t.same(delays, [], 'no delay');
  await next.release();
});

t.test('an armed row whose token no session holds (its backend gone; a reused pid, a promoted standby): a cut-off holder', async (t) => {
  const key = uniqueKey('armed-reused');
  // A live backend that is not the row's session: same pid, no token.
  const other = postgres(url, { max: 1, onnotice: () => {} });
  t.teardown(() => other.end({ timeout: 1 }));
  const pid = (await other.unsafe<{ pid: number }[]>('select pg_backend_pid() as pid'))[0]!.pid;
  await acquireLock({ url, key }).then((lock) => lock.release());
  await server.admin.unsafe(
    `insert into ${HOLDERS_TABLE} (lock_id, backend_pid, key, host, pid, granted_at, bound_ms, not_before, token)
     values ($1, $2, $3, 'elsewhere', 1, now(), 1500, now(), 1234567)`,
    [String(lockIdForKey(key)), pid, key],
  );
  const delays: TakeoverDelay[] = [];
  const started = Date.now();
  const next = await acquireLock({ url, key, onDelay: (delay) => delays.push(delay) });
  t.ok(Date.now() - started >= 1300, `waited its 1.5 s bound (${Date.now() - started} ms)`);
  t.equal(delays[0]?.cutOff?.backendPid, pid);
  await next.release();
});

t.test("pglock status leaves a lock session's token out", async (t) => {
  const session = await openLockSession({ url });
  t.teardown(() => session.close());
  const held = await session.acquire({ key: uniqueKey('armed-status') });
  const tokens = await server.admin.unsafe<{ n: number }[]>(
    'select count(*)::int as n from pg_catalog.pg_locks where locktype = $1 and objsubid = 2 and pid = $2', ['advisory', session.backendPid!],
  );
  t.equal(tokens[0]?.n, 1, 'the session holds its token');
  t.equal(TOKEN_KEY1, Number(BigInt.asIntN(32, lockIdForKey('pglock:session-token') >> 32n)), "the tokens' first key: the high half of the id of 'pglock:session-token'");
  const safety = readFileSync(new URL('../docs/safety.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
  t.ok(safety.includes(`\`classid\` ${TOKEN_CLASSID},`), 'docs/safety.md names the classid tokens have');
  const result = await runPglock(['status', '-d', url, '--json']);
  const locks = (JSON.parse(result.stdout.toString()) as { locks: { pid: number; lockId: string }[] }).locks;
  t.same(locks.filter((lock) => lock.pid === session.backendPid).map((lock) => lock.lockId), [String(held.id)], 'only the lock it holds');
  await held.release();
});

t.test("an older pglock's record: sections write as before, and the session brings it up to date", async (t) => {
  await server.admin.unsafe(`drop table if exists ${HOLDERS_TABLE}; drop function if exists public.pglock_claim`);
  await server.admin.unsafe(readFileSync(new URL('./fixtures/holder-record-before-tokens.sql', import.meta.url), 'utf8'));
  const key = uniqueKey('armed-upgrade');
  const session = await openLockSession({ url });
  t.teardown(() => session.close());
  await session.withLock({ key }, () => undefined);
  t.same((await rowsOf(key)).map((row) => row.bound), [0], "the older function's row, marked released at the release");
  const [upgraded] = await server.admin.unsafe<{ armed: boolean }[]>(
    "select p.prosrc like '%armed%' as armed from pg_catalog.pg_proc p where p.oid = 'public.pglock_claim'::pg_catalog.regproc",
  );
  t.equal(upgraded?.armed, true, 'the function was replaced, and the table has its token column');
  await session.withLock({ key }, () => undefined);
  const [armed] = await rowsOf(key);
  t.ok(armed && armed.bound > 0 && armed.token !== null, `the next section arms the row (${JSON.stringify(armed)})`);
  await session.withLock({ key }, () => undefined);
  t.same(await rowsOf(key), [armed], 'and the one after writes nothing');
});

t.test("the previous pglock's record (before the claim's version 3): the session brings it up to date", async (t) => {
  await server.admin.unsafe(`drop table if exists ${HOLDERS_TABLE}; drop function if exists public.pglock_claim`);
  await server.admin.unsafe(readFileSync(new URL('./fixtures/holder-record-before-version.sql', import.meta.url), 'utf8'));
  const versioned = async () => (await server.admin.unsafe<{ yes: boolean }[]>(
    "select p.prosrc like '%\"version\"%' as yes from pg_catalog.pg_proc p where p.oid = 'public.pglock_claim'::pg_catalog.regproc",
  ))[0]?.yes;
  t.equal(await versioned(), false, 'the fixture is the function before it');
  const key = uniqueKey('armed-version');
  const session = await openLockSession({ url });
  t.teardown(() => session.close());
  await session.withLock({ key }, () => undefined);
  await session.withLock({ key }, () => undefined);
  const [armed] = await rowsOf(key);
  t.ok(armed && armed.bound > 0 && armed.token !== null, `its rows are armed meanwhile (${JSON.stringify(armed)})`);
  await session.withLock({ key }, () => undefined);
  t.equal(await versioned(), true, 'the function was replaced');
  await session.withLock({ key }, () => undefined);
  t.same(await rowsOf(key), [armed], 'and a warm section still writes nothing');
});

t.test('two sessions that draw the same token: the second keeps no armed rows, and its sections write as before', async (t) => {
  const random = Math.random;
  Math.random = () => 0.123456789;
  t.teardown(() => void (Math.random = random));
  const first = await openLockSession({ url });
  const second = await openLockSession({ url });
  Math.random = random;
  t.teardown(() => Promise.all([first.close(), second.close()]));
  const key = uniqueKey('armed-twin');
  for (const session of [first, second]) {
    await session.withLock({ key }, () => undefined);
    await session.withLock({ key }, () => undefined);
  }
  const rows = await rowsOf(key);
  const of = (session: typeof first) => rows.find((row) => row.backend === session.backendPid);
  t.ok(of(first)?.bound === 10_000 && of(first)?.token !== null, `the first holds the token, its row armed (${JSON.stringify(of(first))})`);
  t.ok(of(second)?.bound === 0 && of(second)?.token === null, `the second, without it, marks its row released at each release (${JSON.stringify(of(second))})`);
  const delays: TakeoverDelay[] = [];
  const other = await acquireLock({ url, key, onDelay: (delay) => delays.push(delay) });
  t.same(delays, [], 'a holder after both does not wait');
  await other.release();
});

t.test('close() on a connection that went silent does not wait for the release marks: the rows stay armed', async (t) => {
  const proxy = await startFreezeProxy(server.host, server.port);
  t.teardown(() => proxy.close());
  const through = new URL(url);
  through.hostname = '127.0.0.1';
  through.port = String(proxy.port);
  const session = await openLockSession({ url: through.toString(), heartbeatMs: 300, stopWithinMs: 600 });
  const key = uniqueKey('armed-silent');
  await session.withLock({ key }, () => undefined);
  await session.withLock({ key }, () => undefined);
  proxy.freeze();
  const started = Date.now();
  await session.close();
  t.ok(Date.now() - started < 3000, `close() resolved (${Date.now() - started} ms)`);
  t.same((await rowsOf(key)).map((row) => row.bound), [1200], 'the row stays armed: a next holder that cannot ask the session waits its bound');
});
