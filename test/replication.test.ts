// Replicated PostgreSQL, for real: a primary and a streaming standby made from the same initdb (the
// standby is a cold copy taken before the primary's first start), then failovers by stopping the
// primary and promoting the standby. pglock must never lock on a standby, must follow the primary
// through a multi-host URL, and must keep fencing tokens increasing even across a lossy failover.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { type Cluster, createCluster } from '../scripts/lib/throwaway-postgres.js';
import { lockIdForKey, lockIdHalves } from '../src/key/lock-id.js';
import { acquireLock, elect, openLockSession } from '../src/index.js';
import { FIXTURES, runPglock, startPglock } from './helpers/run-pglock.js';
import { uniqueKey } from './helpers/server.js';
import { maxOverlapMs, readSections } from './helpers/overlap.js';

interface Pair {
  primary: Cluster;
  standby: Cluster;
  /** Both hosts, primary first. */
  url: string;
  /** Both hosts, standby first. */
  standbyFirstUrl: string;
  standbyUrl: string;
}

async function startPair(label: string): Promise<Pair> {
  const primary = await createCluster({ label: `${label}-primary`, settings: { wal_sender_timeout: '5s' } });
  const standby = await primary.createStandby({ label: `${label}-standby` });
  t.teardown(() => standby.close());
  t.teardown(() => primary.close());
  await primary.start();
  await standby.start();
  const auth = `${primary.user}:${primary.password}`;
  return {
    primary, standby,
    url: `postgres://${auth}@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/postgres`,
    standbyFirstUrl: `postgres://${auth}@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/postgres`,
    standbyUrl: `postgres://${auth}@127.0.0.1:${standby.port}/postgres`,
  };
}

const pair = await startPair('repl');

t.test('a standby that stays one for the whole connect timeout is refused: exit 69, the command never runs, one line that says why', async (t) => {
  const started = Date.now();
  const result = await runPglock(['-d', pair.standbyUrl, '-k', uniqueKey('standby'), '--connect-timeout', '1s', '--', 'echo', 'must not run']);
  t.equal(result.code, 69);
  t.ok(Date.now() - started >= 900, 'it kept trying for the connect timeout first (a writer endpoint may lead to a standby for seconds)');
  t.equal(result.stdout.toString(), '', 'the command did not run');
  t.match(result.stderr, new RegExp(`127\\.0\\.0\\.1:${pair.standby.port}/postgres is a standby \\(in recovery\\): advisory locks are not replicated`));
  t.match(result.stderr, /point pglock at the primary/);
  t.equal(result.stderr.trim().split('\n').length, 1, 'one line');
  t.notMatch(result.stderr, new RegExp(pair.primary.password), 'no password');
  const waitStarted = Date.now();
  const waiting = await runPglock(['-d', pair.standbyUrl, '-k', uniqueKey('standby'), '--timeout', '2s', '--connect-timeout', '500ms', '-v', '--', 'echo', 'must not run']);
  t.equal(waiting.code, 69, 'a waiter ends with 69 once its wait has run out on a standby');
  t.ok(Date.now() - waitStarted >= 1900, 'it kept trying for the whole wait (--timeout 2s), not for --connect-timeout (500ms)');
  t.match(waiting.stderr, /cannot connect yet \(a standby \(in recovery\)\); try 1 failed, retrying in/, 'it said it was retrying');
  t.match(waiting.stderr, /is a standby \(in recovery\).*; waiting on until --timeout 2s runs out/, 'and, at its connect timeout, that it waits on');
  t.match(waiting.stderr.trim().split('\n').at(-1), /is a standby \(in recovery\): advisory locks are not replicated/, 'and ended with the same clear line');
  t.equal(waiting.stdout.toString(), '', 'the command did not run');
});

// Issue 29: a waiter's deadline is the wait it asked for. Through one endpoint that refuses (as
// HAProxy with no server up), then leads to a standby, each for longer than --connect-timeout, then
// to a primary: a fail-fast run ends at its connect timeout, a waiter whose --timeout runs out in the
// outage ends with 69 then, and the waiters with time left (--timeout 60s, a bare --wait) run.
t.test('waiters wait through an outage longer than --connect-timeout: refused, a standby, then a primary', async (t) => {
  const proxy = await startMovableProxy(pair.primary.port);
  t.teardown(() => proxy.close());
  proxy.moveTo();
  const endpoint = `postgres://${pair.primary.user}:${pair.primary.password}@127.0.0.1:${proxy.port}/postgres`;
  const key = uniqueKey('outage');
  const log = join(mkdtempSync(join(tmpdir(), 'pglock-outage-')), 'sections.log');
  const section = (label: string) => ['--', process.execPath, join(FIXTURES, 'record.mjs'), log, label, '200'];
  const flags = ['-d', endpoint, '-k', key, '-v', '--connect-timeout', '500ms'];
  const began = Date.now();
  const waiter = startPglock([...flags, '--timeout', '60s', ...section('waiter')]);
  const bare = startPglock([...flags, '--wait', ...section('bare')]);
  const short = startPglock([...flags, '--timeout', '2s', ...section('short')]);
  const fast = await runPglock([...flags, ...section('fast')]);
  const fastMs = Date.now() - began;
  t.equal(fast.code, 69, 'a fail-fast run ends with 69 at its connect timeout');
  t.ok(fastMs < 2000, `within about --connect-timeout (${fastMs} ms)`);
  t.match(fast.stderr.trim().split('\n').at(-1), /cannot connect to .* within 500ms: /);
  const shortRun = await short.result;
  const shortMs = Date.now() - began;
  t.equal(shortRun.code, 69, 'a waiter whose --timeout runs out during the outage ends with 69');
  t.ok(shortMs >= 1900, `not before its --timeout (${shortMs} ms)`);
  t.match(shortRun.stderr.trim().split('\n').at(-1), /cannot connect to .* within 2s: /, 'saying how long it tried');
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, began + 2500 - Date.now())));
  proxy.moveTo(pair.standby.port);
  await waiter.waitForStderr(/cannot connect yet \(a standby \(in recovery\)\)/);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.equal(waiter.child.exitCode, null, `the waiter (--timeout 60s) still waits ${Date.now() - began} ms in (refused, then a standby)`);
  t.equal(bare.child.exitCode, null, 'so does the bare --wait');
  t.notOk(readLog(log).includes('start'), 'nothing ran meanwhile');
  const primaryAt = Date.now();
  proxy.moveTo(pair.primary.port);
  const [waited, barely] = await Promise.all([waiter.result, bare.result]);
  const sections = readSections(log);
  t.comment(`outage ${primaryAt - began} ms; the first waiter ran ${Math.round(Math.min(...sections.map((s) => s.start)) - primaryAt)} ms after the endpoint led to a primary`);
  t.equal(waited.code, 0, 'the waiter ran once the endpoint led to a primary');
  t.equal(barely.code, 0, 'so did the bare --wait');
  t.match(waited.stderr, /cannot connect to .* within 500ms: .*; waiting on until --timeout 1m runs out/, 'at its connect timeout the waiter said it waits on');
  t.match(barely.stderr, /; waiting on, as --wait does \(no time limit\)/);
  t.same(sections.map((x) => x.label).sort(), ['bare', 'waiter'], 'each waiter ran once; the fail-fast and the short one never');
  t.ok(maxOverlapMs(sections) <= 0, 'one at a time');
});

t.test('the library: acquireLock({ wait }), a lock session\'s waiting acquire and elect() wait through an outage', async (t) => {
  const proxy = await startMovableProxy(pair.primary.port);
  t.teardown(() => proxy.close());
  const url = `postgres://${pair.primary.user}:${pair.primary.password}@127.0.0.1:${proxy.port}/postgres`;
  const restoreIn = (ms: number) => setTimeout(() => proxy.moveTo(pair.primary.port), ms);

  proxy.moveTo();
  let began = Date.now();
  await t.rejects(acquireLock({ url, key: uniqueKey('lib-fast'), connectTimeoutMs: 300 }), { name: 'DatabaseUnavailableError', exitCode: 69 }, 'fail fast: rejected at the connect timeout');
  t.ok(Date.now() - began < 2000, 'soon');
  began = Date.now();
  await t.rejects(acquireLock({ url, key: uniqueKey('lib-short'), timeoutMs: 900, connectTimeoutMs: 300 }), { name: 'DatabaseUnavailableError', exitCode: 69, message: /within \d+ms/ });
  t.ok(Date.now() - began >= 850, 'a wait with a timeout: rejected when the wait runs out, not at the connect timeout');

  const unavailable: string[] = [];
  let timer = restoreIn(1500);
  const lock = await acquireLock({ url, key: uniqueKey('lib-wait'), wait: true, connectTimeoutMs: 300, onUnavailable: (error) => unavailable.push(error.message) });
  clearTimeout(timer);
  t.ok(lock.isHeld, 'acquireLock({ wait: true }) got the lock once the endpoint led to a primary');
  t.ok(unavailable.length >= 2, `onUnavailable at each connect timeout of the outage (${unavailable.length} times)`);
  t.match(unavailable[0], /cannot connect to .* within 300ms/);
  await lock.release();

  const session = await openLockSession({ url, connectTimeoutMs: 300 });
  t.teardown(() => session.close());
  proxy.moveTo();
  proxy.dropAll();
  await new Promise((resolve) => setTimeout(resolve, 200));
  await t.rejects(session.acquire({ key: uniqueKey('session-fast') }), { name: 'DatabaseUnavailableError' }, 'a fail-fast acquire on the session fails while it cannot connect');
  timer = restoreIn(1500);
  began = Date.now();
  const held = await session.acquire({ key: uniqueKey('session-wait'), wait: true });
  clearTimeout(timer);
  t.ok(Date.now() - began >= 1000, 'the session\'s waiting acquire waited through the outage');
  await held.release();
  await session.close();

  proxy.moveTo();
  const errors: string[] = [];
  let leading = false;
  const election = elect({ url, key: uniqueKey('elect-outage'), connectTimeoutMs: 300, onError: (error) => errors.push(error.message), onLeading: async (signal) => {
    leading = true;
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
  } });
  await waitFor(() => errors.length >= 2, 'elect() to report the outage');
  t.notOk(leading, 'nobody leads while the endpoint refuses');
  proxy.moveTo(pair.primary.port);
  await waitFor(() => leading, 'elect() to lead once the endpoint leads to a primary', 10_000);
  t.match(errors[0], /cannot connect to .* within 300ms/, 'each connect timeout of the outage went to onError');
  await election.stop();
});

t.test('the library refuses a standby with code ESTANDBY', async (t) => {
  await t.rejects(acquireLock({ url: pair.standbyUrl, key: uniqueKey('standby-lib'), connectTimeoutMs: 500 }), { name: 'StandbyError', code: 'ESTANDBY', exitCode: 69 });
  const lock = await acquireLock({ url: pair.standbyFirstUrl, key: uniqueKey('standby-lib') });
  const [row] = await lock.sql<{ standby: boolean }[]>`select pg_catalog.pg_is_in_recovery() as standby`;
  t.equal(row?.standby, false, 'with both hosts listed, the library locks on the primary');
  await lock.release();
});

t.test('several hosts: pglock skips the standby and locks on the primary', async (t) => {
  const key = uniqueKey('multi');
  const holder = startPglock(['-d', pair.standbyFirstUrl, '-k', key, '-v', '--', 'sleep', '3']);
  await holder.waitForStderr(/running sleep/);
  t.match(holder.stderrSoFar(), new RegExp(`connecting to postgres@127\\.0\\.0\\.1:${pair.standby.port},127\\.0\\.0\\.1:${pair.primary.port}/postgres`));
  // The lock is on the primary: a fail-fast pglock pointed at the primary alone finds it busy.
  const busy = await runPglock(['-d', pair.url.replace(`,127.0.0.1:${pair.standby.port}`, ''), '-k', key, '--', 'true']);
  t.equal(busy.code, 75, 'the lock is visible on the primary');
  t.equal((await holder.result).code, 0);
});

t.test('pglock status on a standby lists that server, and says on stderr whose locks they are not', async (t) => {
  const result = await runPglock(['status', '-d', pair.standbyUrl]);
  t.equal(result.code, 0);
  t.match(result.stdout.toString(), /no advisory locks in database 'postgres'/);
  t.match(result.stderr, /is a standby \(in recovery\): the locks listed are this server's own, not the primary's/);
});

t.test('target_session_attrs that asks for a standby is a usage error', async (t) => {
  const result = await runPglock(['-d', `${pair.url}?target_session_attrs=standby`, '-k', 'k', '--', 'true']);
  t.equal(result.code, 64);
  t.match(result.stderr, /pglock locks only on a primary/);
  const fine = await runPglock(['-d', `${pair.url}?target_session_attrs=read-write`, '-k', uniqueKey('tsa'), '--', 'true']);
  t.equal(fine.code, 0, 'read-write is accepted');
});

// A writer endpoint (HAProxy, a cloud DNS name) leads to the demoted member for a few seconds of a
// failover: one address that is a standby first and a primary after promote. A waiter and a
// fail-fast run started while it is a standby keep trying, and both run once it is promoted.
t.test('one endpoint, a standby at first and a primary after promote: a waiter and a fail-fast run keep trying and run', async (t) => {
  const moving = await startPair('moving');
  const key = uniqueKey('moving');
  const log = join(mkdtempSync(join(tmpdir(), 'pglock-moving-')), 'sections.log');
  const section = (label: string, ms: number) => ['--', process.execPath, join(FIXTURES, 'record.mjs'), log, label, String(ms)];
  const flags = ['-d', moving.standbyUrl, '-k', key, '-v', '--connect-timeout', '30s'];
  const waiter = startPglock([...flags, '--wait', '--timeout', '60s', ...section('waiter', 300)]);
  const fast = startPglock([...flags, '-E', '42', ...section('fast', 300)]);
  await waiter.waitForStderr(/cannot connect yet \(a standby \(in recovery\)\); try 2 failed/);
  await fast.waitForStderr(/cannot connect yet \(a standby \(in recovery\)\); try 2 failed/);
  t.equal(waiter.child.exitCode, null, 'the waiter is still trying while the endpoint leads to a standby');
  t.equal(fast.child.exitCode, null, 'so is the fail-fast run, within its connect timeout');
  t.notOk(readLog(log).includes('start'), 'neither ran on the standby');
  await moving.primary.stop('fast');
  const promoted = Date.now();
  moving.standby.promote();
  const [waited, ran] = await Promise.all([waiter.result, fast.result]);
  t.comment(`both ended ${Date.now() - promoted} ms after promote`);
  const sections = readSections(log);
  t.equal(waited.code, 0, `the waiter ran once the endpoint led to a primary: ${waited.stderr.trim().split('\n').at(-1)}`);
  t.ok([0, 42].includes(ran.code ?? -1), `the fail-fast run either ran or found the waiter holding the lock (exit ${ran.code})`);
  t.same(sections.map((s) => s.label).sort(), ran.code === 0 ? ['fast', 'waiter'] : ['waiter'], 'each that got the lock ran once');
  t.ok(maxOverlapMs(sections) <= 0, 'no two commands overlapped');
});

// Two primaries at once: the standby is promoted while the old primary keeps running (a paused
// Patroni, a split). The holder on the old primary must notice through the primary check and stop.
t.test('superseded holder, several hosts: a standby promoted while the primary runs stops the holder (70)', async (t) => {
  const split = await startPair('split-hosts');
  const key = uniqueKey('split-hosts');
  const log = join(mkdtempSync(join(tmpdir(), 'pglock-split-')), 'sections.log');
  const holder = startPglock(['-d', split.url, '-k', key, '-v', '--primary-check', '300ms', '--kill-after', '1s',
    '--', process.execPath, join(FIXTURES, 'record.mjs'), log, 'holder', '60000']);
  await holder.waitForStderr(/running/);
  await waitFor(() => readLog(log).includes('start holder'), 'the holder to start');
  await new Promise((resolve) => setTimeout(resolve, 700));
  t.equal(holder.child.exitCode, null, 'checks while nothing changed leave it running');
  const promoted = Date.now();
  split.standby.promote();
  const fresh = startPglock(['-d', split.standbyFirstUrl, '-k', key, '--wait', '--timeout', '30s', '--connect-timeout', '30s',
    '--', process.execPath, join(FIXTURES, 'record.mjs'), log, 'fresh', '100']);
  const held = await holder.result;
  t.equal(held.code, 70, 'the superseded holder exits 70');
  t.match(held.stderr, new RegExp(`superseded: 127\\.0\\.0\\.1:${split.standby.port} is a primary on a newer timeline \\(2 > 1\\)`));
  t.match(held.stderr, /stopping the command/);
  t.equal((await fresh.result).code, 0, 'a fresh pglock ran on the new primary');
  const sections = readSections(log);
  const overlap = maxOverlapMs(sections);
  t.comment(`holder stopped ${Math.round(sections.find((s) => s.label === 'holder')!.end - promoted)} ms after promote; overlap with the fresh run ${overlap.toFixed(0)} ms`);
  t.ok(overlap < 5000, 'the overlap is bounded by the check interval and the promotion');
});

t.test('superseded holder, one endpoint: when it leads to another primary, the holder stops (70); a standby or an older primary is no verdict', async (t) => {
  const split = await startPair('split-endpoint');
  const proxy = await startMovableProxy(split.primary.port);
  t.teardown(() => proxy.close());
  const auth = `${split.primary.user}:${split.primary.password}`;
  const endpoint = `postgres://${auth}@127.0.0.1:${proxy.port}/postgres`;
  const key = uniqueKey('split-endpoint');
  const log = join(mkdtempSync(join(tmpdir(), 'pglock-split-endpoint-')), 'sections.log');
  const section = (label: string, ms: number) => ['--', process.execPath, join(FIXTURES, 'record.mjs'), log, label, String(ms)];
  const holder = startPglock(['-d', endpoint, '-k', key, '-v', '--primary-check', '1s', '--kill-after', '1s', ...section('old', 60_000)]);
  await holder.waitForStderr(/running/);
  // Issue 29: the endpoint leads to a standby (the demoted member, still routed to): no verdict.
  proxy.moveTo(split.standby.port);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  t.equal(holder.child.exitCode, null, 'an endpoint that leads to a standby is no verdict: the holder runs on');
  proxy.moveTo(split.primary.port);
  split.standby.promote();
  await waitFor(async () => (await withClient(split.standbyUrl, (sql) => sql`select pg_catalog.pg_is_in_recovery() as r`))[0]?.r === false, 'the promotion');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.equal(holder.child.exitCode, null, 'a promotion elsewhere is no verdict while the endpoint leads to the same server');
  // Two primaries at once behind one endpoint (HAProxy before it marks the old one down): new
  // connections alternate between them; the check's several looks find the new one at once.
  const both = Date.now();
  proxy.moveTo(split.primary.port, split.standby.port);
  const held = await holder.result;
  const stoppedMs = sectionsOf(log, 'old').end - both;
  t.equal(held.code, 70);
  t.match(held.stderr, new RegExp(`superseded: 127\\.0\\.0\\.1:${proxy.port} now leads to another primary \\(on timeline 2, started`));
  t.comment(`with the endpoint alternating between two primaries, the holder stopped ${Math.round(stoppedMs)} ms after (--primary-check 1s)`);
  t.ok(stoppedMs >= 0 && stoppedMs < 1000 + 2500, `only then, and within one check interval and a check's connections (${Math.round(stoppedMs)} ms)`);
  // A holder on the new primary (timeline 2) while the endpoint leads to the stale old primary
  // (timeline 1) too: an older primary cannot supersede it.
  proxy.moveTo(split.standby.port);
  const fresh = startPglock(['-d', endpoint, '-k', key, '-v', '--primary-check', '300ms', '--wait', '--timeout', '30s', ...section('new', 3000)]);
  await fresh.waitForStderr(/running/);
  proxy.moveTo(split.primary.port, split.standby.port);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  proxy.moveTo(split.primary.port);
  const ran = await fresh.result;
  t.equal(ran.code, 0, `the holder on the newer timeline ran to its end: ${ran.stderr.trim().split('\n').at(-1)}`);
  t.notMatch(ran.stderr, /superseded/);
  t.ok(maxOverlapMs(readSections(log)) <= 0, 'the old and the new holder never ran at once');
  const off = await runPglock(['-d', endpoint, '-k', uniqueKey('split-off'), '--primary-check', '0', '--', 'true']);
  t.equal(off.code, 0, '--primary-check 0 turns the check off');
});

// The failover itself, last: it stops this pair's primary for good.
t.test('failover: the holder exits 70 at once, a waiter follows the primary, a new run lands on the new primary, nothing overlaps', async (t) => {
  const key = uniqueKey('failover');
  const log = join(mkdtempSync(join(tmpdir(), 'pglock-failover-')), 'sections.log');
  const section = (label: string, ms: number) => ['--', process.execPath, join(FIXTURES, 'record.mjs'), log, label, String(ms)];
  const flags = ['-d', pair.url, '-k', key, '-v', '--heartbeat', '1s', '--kill-after', '1s', '--connect-timeout', '30s'];
  const holder = startPglock([...flags, ...section('holder', 60_000)]);
  await holder.waitForStderr(/running/);
  await waitFor(() => readLog(log).includes('start holder'), 'the holder to start its section');
  const waiter = startPglock([...flags, '--wait', ...section('waiter', 1500)]);
  await waitFor(async () => (await lockWaiters(pair.primary.url, key)) === 1, 'the waiter to queue on the primary');

  let holderExitedAt = 0;
  holder.child.once('exit', () => (holderExitedAt = Date.now()));
  const stopped = Date.now();
  await pair.primary.stop('fast');
  const held = await holder.result;
  const holderExit = holderExitedAt - stopped;
  t.equal(held.code, 70, 'the holder on the old primary exits 70');
  t.match(held.stderr, /lost the lock/);
  t.comment(`holder exited 70 ${holderExit} ms after the primary began to stop`);
  t.ok(holderExit < 5000, `the holder noticed within seconds (${holderExit} ms)`);

  // The waiter lost its connection without having been granted anything: it keeps trying.
  await waiter.waitForStderr(/while waiting .*; connecting again/);
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.equal(waiter.child.exitCode, null, 'the waiter is still trying while no host is a primary');
  const promoted = Date.now();
  pair.standby.promote();
  await waitFor(() => readLog(log).includes('start waiter'), 'the waiter to run on the new primary', 30_000);
  const waiterStart = sectionStart(readLog(log), 'waiter');
  t.comment(`waiter started ${Math.round(waiterStart - stopped)} ms after the primary stopped (${Math.round(waiterStart - promoted)} ms after promote)`);
  const fresh = startPglock([...flags, '--wait', ...section('fresh', 200)]);
  const [waited, after] = await Promise.all([waiter.result, fresh.result]);
  t.equal(waited.code, 0, 'the waiter ran on the new primary');
  t.match(waited.stderr, new RegExp(`acquired lock .* after`));
  t.equal(after.code, 0, 'a fresh pglock with the same URL runs on the new primary');
  const sections = readSections(log);
  t.same(sections.map((s) => s.label).sort(), ['fresh', 'holder', 'waiter'], 'each ran once');
  t.ok(maxOverlapMs(sections) <= 0, `no two commands overlapped (worst ${maxOverlapMs(sections).toFixed(1)} ms)`);
});

t.test('fencing tokens keep increasing across a lossy failover', async (t) => {
  const lossy = await startPair('lossy');
  const key = uniqueKey('fence');
  const id = lockIdForKey(key);
  const token = async (url: string) => {
    const result = await runPglock(['-d', url, '-k', key, '--fencing-token', '--', 'sh', '-c', 'echo $PGLOCK_FENCING_TOKEN']);
    t.equal(result.code, 0, result.stderr);
    return BigInt(result.stdout.toString().trim());
  };
  const replicated = [await token(lossy.url), await token(lossy.url)];
  await waitFor(async () => (await storedToken(lossy.standbyUrl, id)) === replicated[1], 'the standby to replay the tokens');
  // The standby goes away; the primary hands out more tokens that it will never see.
  await lossy.standby.stop('fast');
  const lost = [await token(lossy.url), await token(lossy.url)];
  await lossy.primary.stop('immediate');
  await lossy.standby.start();
  lossy.standby.promote();
  t.equal(await storedToken(lossy.standbyUrl, id), replicated[1], 'the promoted standby never got the last two increments: the failover was lossy');
  const next = await token(lossy.url);
  const all = [...replicated, ...lost, next];
  t.comment(`tokens: ${all.join(', ')}`);
  t.ok(all.every((value, i) => i === 0 || value > all[i - 1]!), 'every token is larger than every earlier one');
  t.equal(next >> 32n, 2n, 'the new primary is on timeline 2, which leads the token');
  t.equal(lost[1]! >> 32n, 1n, 'the old primary handed out timeline-1 tokens');
});

// A TCP endpoint whose target can move (a writer endpoint, a DNS name): new connections go to the
// current target (several: in turn, as HAProxy's round robin over two primaries; none: accepted and
// closed at once, as HAProxy with no server up), established ones stay where they are.
async function startMovableProxy(port: number): Promise<{ port: number; moveTo(...ports: number[]): void; dropAll(): void; close(): Promise<void> }> {
  const { createServer, connect } = await import('node:net');
  let targets = [port];
  let turn = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((client) => {
    const target = targets[turn++ % Math.max(targets.length, 1)];
    if (target === undefined) return void client.destroy();
    const upstream = connect({ host: '127.0.0.1', port: target });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
      socket.on('error', () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dropAll = () => sockets.forEach((socket) => socket.destroy());
  return {
    port: (server.address() as import('node:net').AddressInfo).port,
    moveTo: (...next) => (targets = next),
    dropAll,
    close: () => new Promise<void>((resolve) => {
      dropAll();
      server.close(() => resolve());
    }),
  };
}

function readLog(log: string): string {
  try {
    return readFileSync(log, 'utf8');
  } catch {
    return '';
  }
}

function sectionsOf(log: string, label: string): { start: number; end: number } {
  const found = readSections(log).find((entry) => entry.label === label);
  if (!found) throw new Error(`no section ${label} in ${log}`);
  return found;
}

function sectionStart(text: string, label: string): number {
  const line = text.split('\n').find((entry) => entry.startsWith(`start ${label} `));
  return Number(line?.split(' ')[2]);
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function withClient<T>(url: string, fn: (sql: import('postgres').Sql) => Promise<T>): Promise<T> {
  const { default: postgres } = await import('postgres');
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

function lockWaiters(url: string, key: string): Promise<number> {
  const { classid, objid } = lockIdHalves(lockIdForKey(key));
  return withClient(url, async (sql) => {
    const [row] = await sql.unsafe<{ n: number }[]>(
      `select count(*)::int as n from pg_catalog.pg_locks where locktype = 'advisory' and not granted and classid = ${classid} and objid = ${objid}`);
    return row?.n ?? 0;
  });
}

function storedToken(url: string, id: bigint): Promise<bigint | undefined> {
  return withClient(url, async (sql) => {
    // The key's token is its newest run's: the highest of its rows (the run history keeps many).
    const rows = await sql.unsafe<{ token: string | null }[]>(`select max(fencing_token)::text as token from public.pglock_runs where lock_id = ${id}`).catch(() => []);
    return rows[0]?.token ? BigInt(rows[0].token) : undefined;
  });
}
