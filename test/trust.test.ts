// pglock must not be fooled by the server it talks to (issue 10):
//  (a) a role whose search_path puts a schema with fake advisory-lock functions before pg_catalog
//      (every call pglock makes is schema-qualified, so the fakes are never called);
//  (b) a server whose own pg_catalog advisory-lock functions answer without locking (every grant
//      is proven from pg_catalog.pg_locks: not shown there → exit 69, ENOADVISORY, command not run).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import postgres from 'postgres';
import { acquireLock } from '../src/index.js';
import { lockIdForKey, slotIds } from '../src/key/lock-id.js';
import { type TestServer, startTestServer, uniqueKey } from './helpers/server.js';
import { eventually, runPglock, startPglock } from './helpers/run-pglock.js';
import { isGranted, lockRows } from './helpers/locks.js';

const gates = mkdtempSync(join(tmpdir(), 'pglock-trust-'));
t.teardown(() => rmSync(gates, { recursive: true, force: true }));

/** A pglock running a command that waits for `open()` (a gate file), then prints "ran". */
function gated(args: string[], key: string) {
  const gate = join(gates, randomBytes(6).toString('hex'));
  const run = startPglock([...args, '-k', key, '-v', '--', 'sh', '-c', `while [ ! -e '${gate}' ]; do sleep 0.02; done; echo ran`]);
  t.teardown(() => {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  });
  return {
    ...run,
    async open() {
      writeFileSync(gate, '');
      return run.result;
    },
  };
}

function urlFor(server: TestServer, user: string, password: string): string {
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${server.port}/${encodeURIComponent(server.database)}`;
}

t.test('(a) a role whose search_path puts fake advisory-lock functions first', async (t) => {
  const server = await startTestServer(t);
  const role = `app_${process.pid}`;
  const schema = `other_${process.pid}`;
  const password = `pw-${randomBytes(9).toString('hex')}`;
  const { admin } = server;
  await admin.unsafe(`drop schema if exists ${schema} cascade`);
  await admin.unsafe(`drop role if exists ${role}`);
  await admin.unsafe(`create role ${role} login password '${password}'`);
  t.teardown(async () => {
    await admin.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where usename = '${role}'`).catch(() => undefined);
    await admin.unsafe(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await admin.unsafe(`drop role if exists ${role}`).catch(() => undefined);
  });
  await admin.unsafe(`create schema ${schema}`);
  await admin.unsafe(`grant usage on schema ${schema} to ${role}`);
  await admin.unsafe(`create function ${schema}.pg_try_advisory_lock(bigint) returns boolean language sql as 'select true'`);
  await admin.unsafe(`create function ${schema}.pg_advisory_lock(bigint) returns void language sql as 'select null::pg_catalog.void'`);
  await admin.unsafe(`create function ${schema}.pg_advisory_unlock(bigint) returns boolean language sql as 'select true'`);
  await admin.unsafe(`alter role ${role} set search_path = ${schema}, pg_catalog`);
  const url = urlFor(server, role, password);

  t.test('the trick works: for that role, unqualified calls reach the fakes', async (t) => {
    const one = postgres(url, { max: 1, onnotice: () => {} });
    const two = postgres(url, { max: 1, onnotice: () => {} });
    t.teardown(() => Promise.all([one.end({ timeout: 1 }), two.end({ timeout: 1 })]));
    const [path] = await one<{ path: string }[]>`select current_setting('search_path') as path`;
    t.equal(path?.path, `${schema}, pg_catalog`);
    const [a] = await one.unsafe<{ locked: boolean }[]>('select pg_try_advisory_lock(1) as locked');
    const [b] = await two.unsafe<{ locked: boolean }[]>('select pg_try_advisory_lock(1) as locked');
    t.equal(a?.locked, true, 'first session: true');
    t.equal(b?.locked, true, 'second session: true as well — nothing was locked');
    const [waited] = await two.unsafe<{ done: boolean }[]>('select pg_advisory_lock(1) is not distinct from null as done');
    t.equal(waited?.done, true, 'the fake pg_advisory_lock returns at once');
    t.same(await lockRows(admin, 1n), [], 'pg_locks shows no advisory lock');
    const [real1] = await one.unsafe<{ locked: boolean }[]>('select pg_catalog.pg_try_advisory_lock(1) as locked');
    const [real2] = await two.unsafe<{ locked: boolean }[]>('select pg_catalog.pg_try_advisory_lock(1) as locked');
    t.same([real1?.locked, real2?.locked], [true, false], 'schema-qualified calls reach the real functions');
  });

  t.test('fail fast: the second pglock as that role is busy (75) and does not run the command', async (t) => {
    const key = uniqueKey('trust-fast');
    const holder = gated(['-d', url], key);
    await holder.waitForStderr(/running sh/);
    t.ok(await isGranted(admin, lockIdForKey(key)), 'the holder really holds the lock (pg_locks)');
    const second = await runPglock(['-d', url, '-k', key, '--', 'echo', 'must not run']);
    t.equal(second.code, 75, second.stderr);
    t.equal(second.stdout.length, 0, 'the command did not run');
    t.match(second.stderr, /^pglock: the lock '.*' \(id -?\d+\) is held by .*; not running the command\n$/);
    const held = await holder.open();
    t.equal(held.code, 0);
    t.equal(held.stdout.toString(), 'ran\n');
    t.notOk(await isGranted(admin, lockIdForKey(key)), 'released');
  });

  t.test('--timeout times out (75) and --wait really waits for the holder', async (t) => {
    const key = uniqueKey('trust-wait');
    const id = lockIdForKey(key);
    const holder = gated(['-d', url], key);
    await holder.waitForStderr(/running sh/);
    const started = Date.now();
    const timedOut = await runPglock(['-d', url, '-k', key, '--timeout', '700ms', '--', 'echo', 'must not run']);
    t.equal(timedOut.code, 75, timedOut.stderr);
    t.equal(timedOut.stdout.length, 0, 'the command did not run');
    t.match(timedOut.stderr, /timed out after 700ms waiting for the lock/);
    t.ok(Date.now() - started >= 700, 'it waited the whole timeout (a fake pg_advisory_lock returns at once)');
    const waiter = startPglock(['-d', url, '-k', key, '--wait', '--', 'echo', 'waiter ran']);
    await eventually(async () => (await lockRows(admin, id)).some((row) => !row.granted), 15_000, 'the waiter queued on the server');
    t.equal(waiter.child.exitCode, null, 'the waiter is still waiting');
    t.equal(waiter.stderrSoFar(), '');
    t.equal((await holder.open()).code, 0, 'the holder finishes');
    const waited = await waiter.result;
    t.equal(waited.code, 0, waited.stderr);
    t.equal(waited.stdout.toString(), 'waiter ran\n', 'the waiter ran once the holder was gone');
  });

  t.test('--limit 2: two holders, the third contender is busy', async (t) => {
    const key = uniqueKey('trust-limit');
    const [slot0, slot1] = slotIds(lockIdForKey(key), 2) as [bigint, bigint];
    const first = gated(['-d', url, '--limit', '2'], key);
    const second = gated(['-d', url, '--limit', '2'], key);
    await Promise.all([first.waitForStderr(/running sh/), second.waitForStderr(/running sh/)]);
    t.ok((await isGranted(admin, slot0)) && (await isGranted(admin, slot1)), 'both slots are held (pg_locks)');
    const [third, timedOut] = await Promise.all([
      runPglock(['-d', url, '--limit', '2', '-k', key, '--', 'echo', 'must not run']),
      runPglock(['-d', url, '--limit', '2', '-k', key, '--timeout', '500ms', '--', 'echo', 'must not run']),
    ]);
    t.equal(third.code, 75, third.stderr);
    t.equal(third.stdout.length, 0, 'the command did not run');
    t.match(third.stderr, /all 2 slots of the lock .* are taken/);
    t.equal(timedOut.code, 75, `a third with --timeout times out too: ${timedOut.stderr}`);
    t.equal(timedOut.stdout.length, 0);
    t.equal((await first.open()).code, 0);
    t.equal((await second.open()).code, 0);
  });
});

t.test('(b) a server whose advisory-lock functions answer without locking', async (t) => {
  const server = await startTestServer(t, { own: true });
  const { admin } = server;
  // As superuser, replace the built-in C functions with SQL ones that lock nothing: PostgreSQL 18
  // lets a superuser CREATE OR REPLACE a function in pg_catalog, language and all. But the function
  // manager calls a built-in OID straight from its compiled-in table (fmgr_isbuiltin) without
  // reading pg_proc, so the fake only takes effect where the planner inlines the SQL body: each
  // body must be one inlinable SELECT of a single expression ('select' alone for the void
  // pg_advisory_lock would still run the real C function, and lock).
  await admin.unsafe(`create or replace function pg_catalog.pg_try_advisory_lock(bigint) returns boolean language sql as 'select true'`);
  await admin.unsafe(`create or replace function pg_catalog.pg_advisory_lock(bigint) returns void language sql as 'select null::pg_catalog.void'`);
  await admin.unsafe(`create or replace function pg_catalog.pg_advisory_unlock(bigint) returns boolean language sql as 'select true'`);
  const url = server.url;

  t.test('the server is broken as intended: the functions say yes and nothing is locked', async (t) => {
    const one = postgres(url, { max: 1, onnotice: () => {} });
    const two = postgres(url, { max: 1, onnotice: () => {} });
    t.teardown(() => Promise.all([one.end({ timeout: 1 }), two.end({ timeout: 1 })]));
    const [a] = await one.unsafe<{ locked: boolean }[]>('select pg_catalog.pg_try_advisory_lock(7::pg_catalog.int8) as locked');
    const [b] = await two.unsafe<{ locked: boolean }[]>('select pg_catalog.pg_try_advisory_lock(7::pg_catalog.int8) as locked');
    t.same([a?.locked, b?.locked], [true, true], 'two sessions both "get" the same lock');
    await two.unsafe('select pg_catalog.pg_advisory_lock(7::pg_catalog.int8)');
    t.same(await lockRows(admin, 7n), [], 'and pg_locks shows nothing');
  });

  const refused = (t: Test, what: string, result: Awaited<ReturnType<typeof runPglock>>) => {
    t.equal(result.code, 69, `${what}: exit 69 (${result.stderr.trim()})`);
    t.equal(result.stdout.length, 0, `${what}: the command did not run`);
    t.equal(result.stderr.trimEnd().split('\n').length, 1, `${what}: one line`);
    t.match(result.stderr, /^pglock: error: .*does not implement PostgreSQL advisory locks/, `${what}: says why`);
    t.notMatch(result.stderr, server.password, `${what}: no password`);
  };

  t.test('pglock refuses (69, ENOADVISORY) and never runs the command', async (t) => {
    const [fast, wait, timeout, limit, limitWait] = await Promise.all([
      runPglock(['-d', url, '-k', 'k', '--', 'echo', 'ran']),
      runPglock(['-d', url, '-k', uniqueKey('noadv'), '--wait', '--', 'echo', 'ran']),
      runPglock(['-d', url, '-k', uniqueKey('noadv'), '--timeout', '2s', '--', 'echo', 'ran']),
      runPglock(['-d', url, '-k', uniqueKey('noadv'), '--limit', '2', '--', 'echo', 'ran']),
      runPglock(['-d', url, '-k', uniqueKey('noadv'), '--limit', '2', '--wait', '--', 'echo', 'ran']),
    ]);
    refused(t, 'fail fast', fast);
    refused(t, '--wait', wait);
    refused(t, '--timeout', timeout);
    refused(t, '--limit 2', limit);
    refused(t, '--limit 2 --wait', limitWait);
  });

  t.test('the library rejects with code ENOADVISORY', async (t) => {
    await t.rejects(acquireLock({ url, key: uniqueKey('noadv-lib'), env: {} }), { code: 'ENOADVISORY', exitCode: 69 });
    await t.rejects(acquireLock({ url, key: uniqueKey('noadv-lib'), env: {}, wait: true }), { code: 'ENOADVISORY', exitCode: 69 });
  });
});

// A warm connection proves its first grant from pg_locks and then trusts the backend that showed it
// (issue 30: the scan of the whole lock table is the dearest part of a warm section). A server whose
// functions are replaced under a running session is caught by the session's heartbeat instead.
t.test('(c) a backend proven once, then a server whose functions start to lie', async (t) => {
  const server = await startTestServer(t, { own: true });
  const { admin } = server;
  const { openLockSession, withTransactionLock, LockLostError } = await import('../src/index.js');
  const session = await openLockSession({ url: server.url, heartbeatMs: 300 });
  t.teardown(() => session.close().catch(() => undefined));
  const first = await session.acquire({ key: uniqueKey('proven') });
  t.ok(await isGranted(admin, first.id), 'a real grant, proven');
  await first.release();
  await admin.unsafe(`create or replace function pg_catalog.pg_try_advisory_lock(bigint) returns boolean language sql as 'select true'`);
  await admin.unsafe(`create or replace function pg_catalog.pg_try_advisory_xact_lock(bigint) returns boolean language sql as 'select true'`);

  await t.test('the proven session\'s next grant is trusted, and its heartbeat finds it missing', async (t) => {
    const lying = await session.acquire({ key: uniqueKey('lying') });
    t.notOk(await isGranted(admin, lying.id), 'the server locked nothing');
    const lost = await Promise.race([lying.lost, new Promise<undefined>((resolve) => setTimeout(resolve, 5000, undefined))]);
    t.type(lost, LockLostError, `reported lost within the heartbeat (${String(lost?.message)})`);
    t.ok(lying.signal.aborted, 'its signal aborted');
  });

  await t.test('a new session and a new client prove their first grant: refused', async (t) => {
    const fresh = await openLockSession({ url: server.url });
    t.teardown(() => fresh.close().catch(() => undefined));
    await t.rejects(fresh.acquire({ key: uniqueKey('fresh') }), { code: 'ENOADVISORY', exitCode: 69 });
    const client = postgres(server.url, { max: 1, onnotice: () => {} });
    t.teardown(() => client.end({ timeout: 1 }));
    await t.rejects(withTransactionLock(client, { key: uniqueKey('fresh-tx') }, () => 'ran'), { code: 'ENOADVISORY', exitCode: 69 });
  });
});
