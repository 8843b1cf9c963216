// `pglock status` end to end (the built bin/pglock.cjs against a real server), and the query
// behind it, listAdvisoryLocks, against the same server.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import postgres from 'postgres';
import { listAdvisoryLocks } from '../src/sql/holders.js';
import { lockIdForKey } from '../src/key/lock-id.js';
import type { StatusEntry } from '../src/cli/report/status-entry.js';
import { freePort, startTestServer, uniqueKey } from './helpers/server.js';
import { type Running, eventually, runPglock, startPglock } from './helpers/run-pglock.js';
import { lockRows } from './helpers/locks.js';

// A server of its own even when PGLOCK_TEST_DATABASE_URL is set: status lists every advisory lock
// in the database, and these tests assert on whole listings.
const server = await startTestServer(t, { own: true });
const url = server.url;
const host = hostname();
const running = new Set<Running>();

// Whatever a test left running is stopped at the end, even when an assertion failed midway.
t.teardown(async () => {
  for (const pglock of running) pglock.child.kill('SIGKILL');
  await Promise.all([...running].map((pglock) => pglock.result));
});

/** A pglock holding `key` (extra flags before --) until stopped; resolves once it runs its command. */
async function holdWithPglock(key: string, flags: string[] = []): Promise<Running> {
  const pglock = start(['-d', url, '-k', key, '-v', ...flags, '--', 'sleep', '60']);
  await pglock.waitForStderr(/running/);
  return pglock;
}

function start(args: string[]): Running {
  const pglock = startPglock(args);
  running.add(pglock);
  void pglock.result.then(() => running.delete(pglock));
  return pglock;
}

async function stop(pglock: Running) {
  pglock.child.kill('SIGTERM');
  return pglock.result;
}

/** A plain postgres.js session (one connection) with this application_name, for locks taken by SQL. */
function sqlSession(t: { teardown(fn: () => unknown): void }, applicationName: string, target = url) {
  const client = postgres(target, { max: 1, onnotice: () => {}, connection: { application_name: applicationName } });
  t.teardown(() => client.end({ timeout: 1 }));
  return client;
}

async function status(args: string[] = [], target = url) {
  const result = await runPglock(['status', '-d', target, ...args]);
  return { ...result, out: result.stdout.toString() };
}

async function statusJson(args: string[] = [], target = url): Promise<StatusEntry[]> {
  const result = await status(['--json', ...args], target);
  if (result.code !== 0) throw new Error(`pglock status exited ${result.code}: ${result.stderr}`);
  const parsed = JSON.parse(result.out) as { version?: unknown; locks?: unknown };
  if (parsed.version !== 2 || !Array.isArray(parsed.locks)) throw new Error(`not a version 2 status: ${result.out}`);
  return parsed.locks as StatusEntry[];
}

const waiting = (id: bigint) => async () => (await lockRows(server.admin, id)).some((row) => !row.granted);
const isIsoTime = (value: unknown) => typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(value) && !Number.isNaN(Date.parse(value));

t.test('listAdvisoryLocks: ids of both signs and the extremes, the two-int4 form, the id filter', async (t) => {
  // Keys whose ids are negative and positive: the halves in pg_locks are unsigned either way.
  const keys = Array.from({ length: 16 }, (_, i) => uniqueKey(`sign${i}`));
  const negative = keys.find((key) => lockIdForKey(key) < 0n)!;
  const positive = keys.find((key) => lockIdForKey(key) > 0n)!;
  const ids = [lockIdForKey(negative), lockIdForKey(positive), -(2n ** 63n), 2n ** 63n - 1n, -1n, 0n, 2n ** 32n];
  const client = sqlSession(t, 'status-test-ids');
  const session = await client.reserve();
  t.teardown(() => session.release());
  for (const id of ids) await session.unsafe(`select pg_advisory_lock((${id})::bigint)`);
  await session.unsafe('select pg_advisory_lock_shared(-5, 7)');
  const [{ pid } = { pid: 0 }] = await session<{ pid: number }[]>`select pg_backend_pid() as pid`;

  const rows = (await listAdvisoryLocks(server.admin)).filter((row) => row.pid === pid);
  const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
  t.same(rows.map((row) => row.lockId), [...sorted, '-5:7'], 'every id, signed, in order; the two-int4 lock last');
  t.match(rows[0], {
    key: null, slot: null, granted: true, mode: 'exclusive', applicationName: 'status-test-ids', pglock: null,
    clientAddr: '127.0.0.1', user: server.user, since: null, detailsHidden: false,
  });
  t.ok(isIsoTime(rows[0]?.backendStart), 'backendStart is an ISO time');
  t.equal(rows.at(-1)?.mode, 'shared');

  const filtered = await listAdvisoryLocks(server.admin, { ids: [lockIdForKey(negative), 2n ** 63n - 1n, 123n] });
  t.same(filtered.map((row) => row.lockId), [String(lockIdForKey(negative)), String(2n ** 63n - 1n)], 'only the ids asked for');
  t.same(await listAdvisoryLocks(server.admin, { ids: [] }), [], 'an empty filter matches nothing');

  await session.unsafe('select pg_advisory_unlock_all()');
  t.same((await listAdvisoryLocks(server.admin)).filter((row) => row.pid === pid), [], 'gone once released');
});

t.test('listAdvisoryLocks: only the current database', async (t) => {
  const database = `status_other_${randomBytes(4).toString('hex')}`;
  await server.admin.unsafe(`create database ${database}`);
  const otherUrl = new URL(url);
  otherUrl.pathname = `/${database}`;
  const other = sqlSession(t, 'status-test-other-db', otherUrl.href);
  t.teardown(async () => {
    await other.end({ timeout: 1 });
    await server.admin.unsafe(`drop database if exists ${database} with (force)`);
  });
  const session = await other.reserve();
  await session.unsafe('select pg_advisory_lock(777)');
  t.ok((await listAdvisoryLocks(session)).some((row) => row.lockId === '777'), 'seen from its own database');
  t.notOk((await listAdvisoryLocks(server.admin)).some((row) => row.lockId === '777'), 'not from another');
  await session.unsafe('select pg_advisory_unlock_all()');
  session.release();
});

t.test('listAdvisoryLocks: keys, slots and held-since from a pglock application_name', async (t) => {
  const key = uniqueKey('fake:@pglock');
  const id = lockIdForKey(key);
  const client = sqlSession(t, `pglock:${key}@fakehost:4242`);
  const session = await client.reserve();
  t.teardown(() => session.release());
  const before = Date.now();
  await session.unsafe(`select pg_advisory_lock(${id}::bigint)`);
  const after = Date.now();
  const own = async () => (await listAdvisoryLocks(server.admin, { ids: [id] }))[0];
  const first = await own();
  t.match(first, { key, slot: 0, pglock: { key, host: 'fakehost', pid: 4242 }, granted: true });
  // Idle after its lock statement: the time it went idle is the grant.
  const since = Date.parse(first?.since ?? '');
  t.ok(since >= before - 1000 && since <= after + 1000, `since ${first?.since} is when the lock statement ended`);

  await session.unsafe('/* pglock held-since 2020-01-02T03:04:05.678Z */ select 1');
  t.equal((await own())?.since, '2020-01-02T03:04:05.678Z', 'the heartbeat comment says since when');

  for (const extra of [id + 3n, id - 1n, 424242n]) await session.unsafe(`select pg_advisory_lock(${extra}::bigint)`);
  await session.unsafe('/* pglock held-since 2020-01-02T03:04:05.678Z */ select 1');
  const rows = await listAdvisoryLocks(server.admin, { ids: [id, id + 3n, id - 1n, 424242n] });
  const byId = new Map(rows.map((row) => [row.lockId, row]));
  t.match(byId.get(String(id + 3n)), { key, slot: 3 }, 'a --limit slot');
  t.match(byId.get(String(id - 1n)), { key, slot: -1 }, 'the --limit gate');
  t.match(byId.get('424242'), { key: null, slot: null, pglock: { key }, since: null }, 'another lock on the same session: no key, no since');
  t.equal(byId.get(String(id))?.since, '2020-01-02T03:04:05.678Z', 'the comment still dates the own lock');

  // A long key is truncated in application_name: its id cannot be matched, so no key is guessed.
  const longKey = `${uniqueKey('long')}:${'x'.repeat(80)}`;
  const truncated = sqlSession(t, `pglock:${longKey.slice(0, 30)}@fakehost:99`);
  const other = await truncated.reserve();
  await other.unsafe(`select pg_advisory_lock(${lockIdForKey(longKey)}::bigint)`);
  const [row] = await listAdvisoryLocks(server.admin, { ids: [lockIdForKey(longKey)] });
  t.match(row, { key: null, slot: null, pglock: { key: longKey.slice(0, 30), host: 'fakehost', pid: 99 } });
  await other.unsafe('select pg_advisory_unlock_all()');
  other.release();
  await session.unsafe('select pg_advisory_unlock_all()');
});

t.test('pglock status: a holder and a waiter, as a table and as JSON', async (t) => {
  const key = uniqueKey('status');
  const id = lockIdForKey(key);
  const started = Date.now();
  const holder = await holdWithPglock(key);
  const waiter = start(['-d', url, '-k', key, '-w', '--', 'echo', 'waiter ran']);
  await eventually(waiting(id), 15_000, 'the waiter to queue');
  const [holderBackend] = (await lockRows(server.admin, id)).filter((row) => row.granted);

  const text = await status();
  t.equal(text.code, 0);
  t.equal(text.stderr, '', 'nothing on stderr');
  t.comment(`pglock status:\n${text.out}`);
  const lines = text.out.trimEnd().split('\n');
  t.match(lines[0], /^KEY +LOCK ID +STATE +MODE +PID +PGLOCK +APPLICATION +CLIENT +SINCE$/);
  const holding = lines.findIndex((line) => line.includes(key) && /\bholding\b/.test(line));
  const queued = lines.findIndex((line) => line.includes(key) && /\bwaiting\b/.test(line));
  t.ok(holding > 0 && queued > holding, 'the holder, then the waiter');
  t.match(lines[holding], `${id}`);
  t.match(lines[holding], ` ${holderBackend?.pid} `, 'the backend pid');
  t.match(lines[holding], `${host}:${holder.child.pid}`, "the holder's pglock host:pid");
  t.match(lines[queued], `${host}:${waiter.child.pid}`, "the waiter's pglock host:pid");
  t.match(lines[holding], /exclusive .* ago \(\d{4}-\d\d-\d\dT[\d:]+Z\)$/);
  t.equal(lines.at(-1), `2 advisory locks in database '${server.database}': 1 holder, 1 waiter`);
  t.equal(lines.length, 4, 'a header, two rows, the summary');

  const json = await statusJson();
  t.comment(`pglock status --json:\n${JSON.stringify(json)}`);
  t.equal(json.length, 2);
  const [held, wait] = json;
  t.match(held, {
    key, slot: 0, lockId: String(id), granted: true, mode: 'exclusive', pid: holderBackend?.pid,
    applicationName: `pglock:${key}@${host}:${holder.child.pid}`, host, pglockPid: holder.child.pid,
    clientAddr: '127.0.0.1', user: server.user, detailsHidden: false,
  });
  t.match(wait, { key, slot: 0, lockId: String(id), granted: false, host, pglockPid: waiter.child.pid, detailsHidden: false });
  for (const entry of json) {
    t.type(entry.pid, 'number');
    t.ok(isIsoTime(entry.since), `since is an ISO time: ${entry.since}`);
    t.ok(Date.parse(entry.since!) >= started - 1000 && Date.parse(entry.since!) <= Date.now(), 'since is after the test began and not in the future');
    t.ok(isIsoTime(entry.backendStart));
  }
  t.ok(Date.parse(held!.since!) <= Date.parse(wait!.since!) + 1000, 'the holder got it before the waiter queued');

  await stop(holder);
  const waited = await waiter.result;
  t.equal(waited.code, 0);
  t.equal(waited.stdout.toString(), 'waiter ran\n', 'the waiter ran once the holder was gone');
  const empty = await status();
  t.equal(empty.out, `no advisory locks in database '${server.database}'\n`);
});

t.test('pglock status: held-since from the heartbeat comment', async (t) => {
  const key = uniqueKey('beat');
  const before = Date.now();
  const holder = await holdWithPglock(key, ['--heartbeat', '200ms']);
  await eventually(async () => {
    const [row] = await server.admin<{ query: string }[]>`select query from pg_stat_activity where application_name like ${`pglock:${key}@%`}`;
    return row?.query.startsWith('/* pglock held-since ') === true;
  }, 15_000, 'a heartbeat');
  const [entry] = await statusJson(['--key', key]);
  t.ok(isIsoTime(entry?.since));
  t.ok(Date.parse(entry!.since!) >= before - 1000 && Date.parse(entry!.since!) <= Date.now(), `since ${entry?.since}`);
  await stop(holder);
});

t.test('pglock status --key: only that key, whoever holds it; SQL sessions have no key', async (t) => {
  const key = uniqueKey('only');
  const otherKey = uniqueKey('other');
  const holder = await holdWithPglock(key);
  const other = await holdWithPglock(otherKey);
  const client = sqlSession(t, 'report-job');
  const session = await client.reserve();
  t.teardown(() => session.release());
  // The SQL session queues behind the pglock holder of `key`.
  const sqlWaiter = session.unsafe(`select pg_advisory_lock(${lockIdForKey(key)}::bigint)`);
  void sqlWaiter.catch(() => undefined);
  await eventually(waiting(lockIdForKey(key)), 15_000, 'the SQL session to queue');

  const all = await statusJson();
  const sqlRow = all.find((entry) => entry.applicationName === 'report-job');
  t.match(sqlRow, { key: null, slot: null, granted: false, host: null, pglockPid: null }, 'without --key: a SQL session has no key');
  t.ok(all.some((entry) => entry.key === otherKey), 'and every key is listed');

  const only = await statusJson(['--key', key]);
  t.same(only.map((entry) => [entry.key, entry.granted, entry.applicationName?.startsWith('pglock:') ?? false]), [[key, true, true], [key, false, false]],
    'with --key: its holder and the SQL session waiting for it, named with the key');
  const text = await status(['--key', key]);
  t.match(text.out, /report-job/);
  t.notMatch(text.out, otherKey);
  t.match(text.out, new RegExp(`2 advisory locks for key '${key}' in database '${server.database}': 1 holder, 1 waiter\\nno recorded run of '${key}' \\(runs are recorded with --record, --min-interval or --fencing-token\\)\\n$`));
  t.equal((await status(['--key', uniqueKey('none')])).out.startsWith('no advisory locks for key'), true);

  await stop(holder);
  await sqlWaiter;
  await session.unsafe('select pg_advisory_unlock_all()');
  await stop(other);
});

t.test('pglock status: a holder that is not pglock: SINCE unknown, said why, with when its session began (issue 28)', async (t) => {
  const key = uniqueKey('sql-holder');
  const client = sqlSession(t, 'etl-script');
  const session = await client.reserve();
  t.teardown(() => session.release());
  await session.unsafe(`select pg_advisory_lock(${lockIdForKey(key)}::bigint)`);
  const text = await status(['--key', key]);
  const row = text.out.split('\n').find((line) => line.includes('etl-script'));
  t.match(row, /holding .* unknown \(session began [\dms.]+ ago\)$/, 'SINCE: unknown, and when the session began');
  t.match(text.out, '\nSINCE unknown: PostgreSQL does not record when a lock was granted;', 'a legend under the table');
  const [entry] = await statusJson(['--key', key]);
  t.match(entry, { key, pglockPid: null, host: null, since: null, backendStart: String }, 'JSON: since null, backendStart known; with --key, the key');
  t.match((await statusJson()).find((e) => e.applicationName === 'etl-script'), { key: null }, 'without --key: key null');
  await session.unsafe('select pg_advisory_unlock_all()');
});

t.test('pglock status: the slots and the gate of --limit', async (t) => {
  const key = uniqueKey('limit');
  const holders = [await holdWithPglock(key, ['-n', '2']), await holdWithPglock(key, ['-n', '2'])];
  const waiter = start(['-d', url, '-k', key, '-n', '2', '-w', '--', 'true']);
  await eventually(waiting(lockIdForKey(key)), 15_000, 'the waiter to wait for a slot');
  const entries = await statusJson(['--key', key]);
  t.comment(`pglock status --key --json with --limit 2:\n${JSON.stringify(entries)}`);
  t.same(entries.filter((entry) => entry.granted && entry.slot !== -1).map((entry) => entry.slot).sort(), [0, 1], 'slots 0 and 1 are held');
  t.ok(entries.every((entry) => entry.key === key), 'every row is named with the key');
  t.ok(entries.some((entry) => !entry.granted && entry.pglockPid === waiter.child.pid), 'the waiter is listed');
  const text = await status(['--key', key]);
  t.comment(`pglock status --key with --limit 2:\n${text.out}`);
  t.match(text.out, /\(slot 1\)/);
  t.match(text.out, /\(gate\)/);
  for (const holder of holders) await stop(holder);
  t.equal((await waiter.result).code, 0);
});

t.test('pglock status as a role without pg_read_all_stats: details hidden, no crash', async (t) => {
  const role = `status_reader_${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  await server.admin.unsafe(`create role ${role} login password '${password}'`);
  t.teardown(() => server.admin.unsafe(`drop role if exists ${role}`));
  const readerUrl = new URL(url);
  readerUrl.username = role;
  readerUrl.password = password;
  const key = uniqueKey('hidden');
  const holder = await holdWithPglock(key);
  const client = sqlSession(t, 'admin-job');
  const session = await client.reserve();
  await session.unsafe('select pg_advisory_lock(31337)');

  const result = await status(['--json'], readerUrl.href);
  t.equal(result.code, 0);
  t.match(result.stderr, /^pglock: the details of 2 sessions of other roles are hidden from role 'status_reader_\w+'; a role with pg_read_all_stats sees them\n$/);
  const entries = (JSON.parse(result.out) as { locks: StatusEntry[] }).locks;
  t.comment(`pglock status --json as ${role}:\n${result.out}`);
  const pglockRow = entries.find((entry) => entry.lockId === String(lockIdForKey(key)));
  const sqlRow = entries.find((entry) => entry.lockId === '31337');
  for (const row of [pglockRow, sqlRow]) {
    t.match(row, { granted: true, detailsHidden: true, clientAddr: null, since: null, backendStart: null });
    t.type(row?.pid, 'number');
  }
  // PostgreSQL still shows application_name and the user to everyone: the pglock is recognised.
  t.match(pglockRow, { key, host, pglockPid: holder.child.pid, user: server.user });
  const text = await status([], readerUrl.href);
  t.equal(text.code, 0);
  t.match(text.out, /\(hidden\)/);
  t.comment(`pglock status as ${role}:\n${text.out}`);

  await server.admin.unsafe(`grant pg_read_all_stats to ${role}`);
  const granted = await status(['--json'], readerUrl.href);
  t.equal(granted.stderr, '', 'with pg_read_all_stats: no note');
  t.ok((JSON.parse(granted.out) as { locks: StatusEntry[] }).locks.every((entry) => !entry.detailsHidden), 'and every detail shown');
  await session.unsafe('select pg_advisory_unlock_all()');
  session.release();
  await stop(holder);
});

t.test('pglock status against an unreachable server: exit 69, one line on stderr', async (t) => {
  const port = await freePort();
  const result = await status(['--connect-timeout', '300ms'], `postgres://nobody:secret@127.0.0.1:${port}/x`);
  t.equal(result.code, 69);
  t.equal(result.out, '');
  t.match(result.stderr, /^pglock: error: cannot connect to [^\n]*connection refused[^\n]*\n$/);
  t.notMatch(result.stderr, /secret/);
});

t.test('pglock --key k -- status runs a command named status', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pglock-status-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'status');
  writeFileSync(script, '#!/bin/sh\necho "the child named status ran with key $PGLOCK_KEY and args: $*"\n');
  chmodSync(script, 0o755);
  const key = uniqueKey('trap');
  const result = await runPglock(['-d', url, '--key', key, '--', 'status', '--json'], { env: { PATH: `${dir}:${process.env.PATH ?? ''}` } });
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stdout.toString(), `the child named status ran with key ${key} and args: --json\n`);
});
