// Cron fleets and the run record: --min-interval (one run per schedule tick, by the database's
// clock), --record, the run's end (exit code, signal, lock lost), what `pglock status` shows, and the
// library's minIntervalMs. End to end: the built binary against a real server.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { FIXTURES, PGLOCK_BIN, type RunResult, cleanEnv, runPglock, startPglock } from './helpers/run-pglock.js';
import { readSections } from './helpers/overlap.js';
import { lockIdForKey } from '../src/key/lock-id.js';
import { LockBusyError, RecentRunError, acquireLock, withLock } from '../src/index.js';
import type { RunEntry } from '../src/cli/report/status-entry.js';

const server = await startTestServer(t);
const url = server.url;
const node = process.execPath;
const record = join(FIXTURES, 'record.mjs');
const host = hostname();
const tempDir = () => mkdtempSync(join(tmpdir(), 'pglock-runs-'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function lastRun(key: string, target = url): Promise<RunEntry | undefined> {
  const result = await runPglock(['status', '-d', target, '--key', key, '--json']);
  if (result.code !== 0) throw new Error(`pglock status exited ${result.code}: ${result.stderr}`);
  return (JSON.parse(result.stdout.toString()) as { runs: RunEntry[] }).runs[0];
}

// N pglock processes started `spreadMs` apart in total, as cron ticks on N hosts are.
async function fleet(size: number, spreadMs: number, args: (i: number) => string[]): Promise<{ pids: number[]; results: RunResult[] }> {
  const started = [];
  for (let i = 0; i < size; i++) {
    if (i > 0) await sleep(spreadMs / (size - 1));
    started.push(startPglock(args(i)));
  }
  return { pids: started.map((run) => run.child.pid!), results: await Promise.all(started.map((run) => run.result)) };
}

t.test('a fleet whose ticks spread over 3s, running a 0.1s job: without --min-interval several run; with it exactly one', async (t) => {
  const key = uniqueKey('fleet');
  const plainLog = join(tempDir(), 'plain.log');
  const plain = await fleet(8, 3000, (i) => ['-d', url, '-k', `${key}:plain`, '--', node, record, plainLog, `h${i}`, '100']);
  const plainRuns = readSections(plainLog).length;
  t.ok(plainRuns > 1, `without --min-interval the job ran ${plainRuns} times (exit codes ${plain.results.map((r) => r.code).join(' ')}): the lock alone only stops overlap`);

  const log = join(tempDir(), 'fleet.log');
  const { pids, results } = await fleet(8, 3000, (i) => ['-d', url, '-k', key, '--min-interval', '1m', '--', node, record, log, `h${i}`, '100']);
  const sections = readSections(log);
  t.equal(sections.length, 1, 'with --min-interval 1m the job ran exactly once');
  const ran = Number(sections[0]!.label.slice(1));
  t.equal(results[ran]!.code, 0, 'the one that ran exited 0');
  results.forEach((result, i) => {
    if (i === ran) return;
    t.equal(result.code, 75, `h${i} exited with the conflict code`);
    t.equal(result.stdout.length, 0, `h${i} ran nothing`);
    // Either the lock was busy (h${ran} still running), or the run was too recent: both name it.
    t.match(result.stderr, new RegExp(`on ${host} \\(pid ${pids[ran]}\\)`), `h${i} names the host and pid of the run: ${result.stderr.trim()}`);
  });
  t.ok(results.some((result) => /the last run of '.*' started [\d.]+m?s ago on .* and exited 0 after [\d.]+m?s; --min-interval 1m: not running the command/.test(result.stderr)),
    'the later ones say when the last run started and how it ended');
  t.match(await lastRun(key), { outcome: 'exited', exitCode: 0, host, pglockPid: pids[ran], holding: false });
});

t.test("README's cron recipe, run as written on three hosts whose ticks spread over a second: one report", async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const line = readme.split('\n').find((text) => text.startsWith('0 3 * * * ') && text.includes('--min-interval'));
  if (line === undefined) throw new Error("README's cron recipe line (0 3 * * * … --min-interval) is missing");
  const cronCommand = line.split(' ').slice(5).join(' ');
  t.match(cronCommand, /^PGLOCK_DATABASE_URL=postgres:\/\/cron@db\/app pglock .* -- \/opt\/app\/bin\/report$/, 'the recipe as README shows it');
  // Only what points at the reader's own machine changes: the database URL and the report script.
  const dir = tempDir();
  symlinkSync(PGLOCK_BIN, join(dir, 'pglock'));
  const log = join(dir, 'report.log');
  const results = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(500);
    const command = cronCommand.replace('postgres://cron@db/app', `'${url}'`).replace('/opt/app/bin/report', `${node} ${record} ${log} host${i} 100`);
    results.push(new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn('/bin/sh', ['-c', command], { env: cleanEnv({ PATH: `${dir}:${process.env.PATH ?? ''}` }), stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (status) => resolve({ status, stderr }));
    }));
  }
  const done = await Promise.all(results);
  t.equal(readSections(log).length, 1, 'the report ran once');
  t.same(done.map((result) => result.status), [0, 0, 0], 'every host exits 0 (-E 0): cron does not alert');
  t.same(done.map((result) => result.stderr), ['', '', ''], 'and prints nothing (-q): no cron mail');
});

t.test('after the interval passes the next run goes ahead; a failed run counts too', async (t) => {
  const key = uniqueKey('interval');
  const first = await runPglock(['-d', url, '-k', key, '--min-interval', '1500ms', '--', 'sh', '-c', 'echo first; exit 3']);
  t.equal(first.code, 3, 'the first run exits with its command');
  t.equal(first.stdout.toString(), 'first\n');
  const early = await runPglock(['-d', url, '-k', key, '--min-interval', '1500ms', '--', 'echo', 'too early']);
  t.equal(early.code, 75, 'a run within the interval is skipped, though the last run failed');
  t.match(early.stderr, /and exited 3 after [\d.]+m?s; --min-interval 1.5s: not running the command/);
  t.equal(early.stdout.length, 0);
  const custom = await runPglock(['-d', url, '-k', key, '--min-interval', '1500ms', '-E', '0', '-q', '--', 'echo', 'too early']);
  t.same([custom.code, custom.stderr], [0, ''], '-E 0 -q: cron sees exit 0 and no output');
  await sleep(1600);
  const later = await runPglock(['-d', url, '-k', key, '--min-interval', '1500ms', '--', 'echo', 'next']);
  t.equal(later.code, 0, 'after the interval the next run goes ahead');
  t.equal(later.stdout.toString(), 'next\n');
});

t.test('host clocks do not matter: the interval is measured by the database', async (t) => {
  const key = uniqueKey('clock');
  t.equal((await runPglock(['-d', url, '-k', key, '--min-interval', '1h', '--', 'true'])).code, 0);
  // A host whose clock runs two hours ahead (libfaketime when installed, else a preload that moves
  // Date): were the check made by the host's clock, the last run would look two hours old.
  const faketime = spawnSync('faketime', ['-f', '+2h', 'true']).status === 0;
  const dir = tempDir();
  const preload = join(dir, 'ahead.mjs');
  writeFileSync(preload, 'const real = Date.now; Date.now = () => real() + 7_200_000;\n');
  const args = ['-d', url, '-k', key, '--min-interval', '1h', '--', 'echo', 'ran'];
  const command = faketime ? ['faketime', '-f', '+2h', node, PGLOCK_BIN, ...args] : [node, '--import', preload, PGLOCK_BIN, ...args];
  t.comment(faketime ? 'host clock moved with libfaketime (+2h)' : 'faketime not installed: host clock moved with a Date preload (+2h)');
  const skewed = spawnSync(command[0]!, command.slice(1), { env: cleanEnv(), encoding: 'utf8' });
  t.equal(skewed.status, 75, `a host two hours ahead still skips: ${skewed.stderr.trim()}`);
  t.match(skewed.stderr, /started \d+(\.\d+)?m?s ago/, 'and reports the age by the database clock (seconds, not hours)');
});

t.test('--wait with --min-interval: a waiter that gets the lock after a recent run skips', async (t) => {
  const key = uniqueKey('wait');
  const holder = startPglock(['-d', url, '-k', key, '--min-interval', '1m', '-v', '--', 'sleep', '1']);
  await holder.waitForStderr(/running sleep/);
  const waiter = await runPglock(['-d', url, '-k', key, '--min-interval', '1m', '--wait', '--', 'echo', 'must not run']);
  t.equal((await holder.result).code, 0);
  t.equal(waiter.code, 75, 'the waiter got the lock, then skipped');
  t.equal(waiter.stdout.length, 0);
  t.match(waiter.stderr, new RegExp(`the last run of '${key}' started [\\d.]+s ago on ${host} \\(pid ${holder.child.pid}\\) and exited 0 after 1(\\.\\d)?s`));
});

t.test('--limit with --min-interval counts the runs of the key, whatever the slot', async (t) => {
  const key = uniqueKey('limit');
  const log = join(tempDir(), 'limit.log');
  const results = await Promise.all(Array.from({ length: 4 }, (_, i) =>
    runPglock(['-d', url, '-k', key, '-n', '3', '--wait', '--min-interval', '1m', '--', node, record, log, `s${i}`, '200'])));
  t.equal(readSections(log).length, 1, 'one run');
  t.same(results.map((r) => r.code).sort(), [0, 75, 75, 75]);
});

t.test('a run stopped by lock loss is recorded as such, and still counts', async (t) => {
  const key = uniqueKey('lost');
  const holder = startPglock(['-d', url, '-k', key, '--record', '--heartbeat', '200ms', '-v', '--', 'sleep', '30']);
  await holder.waitForStderr(/running sleep/);
  const id = lockIdForKey(key);
  await server.admin.unsafe(`select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and granted
    and classid = ${Number(BigInt.asUintN(64, id) >> 32n)}::oid and objid = ${Number(BigInt.asUintN(32, id))}::oid`);
  const result = await holder.result;
  t.equal(result.code, 70, 'pglock exits 70 after losing the lock');
  t.match(await lastRun(key), { outcome: 'lock-lost', pglockPid: holder.child.pid, holding: false }, 'the record says the lock was lost');
  const next = await runPglock(['-d', url, '-k', key, '--min-interval', '1m', '--', 'true']);
  t.equal(next.code, 75);
  t.match(next.stderr, /was stopped after [\d.]+m?s: pglock lost the lock; --min-interval 1m/);
});

t.test('a pglock killed mid-run: its end is never recorded, and status says so', async (t) => {
  const key = uniqueKey('killed');
  const holder = startPglock(['-d', url, '-k', key, '--record', '-v', '--', 'sleep', '30']);
  await holder.waitForStderr(/running sleep/);
  const running = await runPglock(['status', '-d', url, '--key', key]);
  t.match(running.stdout.toString(), new RegExp(`last run of '${key}': started [\\d.]+m?s ago \\(.*Z\\) on ${host} \\(pid ${holder.child.pid}\\), is still running; fencing token \\d+`));
  holder.child.kill('SIGKILL');
  await holder.result;
  await sleep(300);
  t.match(await lastRun(key), { outcome: 'running', endedAt: null, holding: false });
  const after = await runPglock(['status', '-d', url, '--key', key]);
  t.match(after.stdout.toString(), /never recorded its end \(its pglock was killed, or lost its connection\)/);
  const next = await runPglock(['-d', url, '-k', key, '--min-interval', '1m', '--', 'true']);
  t.equal(next.code, 75, 'a run whose pglock was killed still counts');
});

t.test('pglock status: the last run per key, in text and JSON, also when nobody holds the lock', async (t) => {
  const key = uniqueKey('status');
  t.equal((await runPglock(['-d', url, '-k', key, '--record', '--', 'sh', '-c', 'kill -TERM $$'])).code, 143);
  const entry = await lastRun(key);
  t.match(entry, { key, lockId: String(lockIdForKey(key)), outcome: 'signaled', signal: 'SIGTERM', exitCode: null, host, holding: false });
  t.ok(typeof entry?.durationMs === 'number' && entry.durationMs >= 0, 'a duration');
  t.ok(/^\d+$/.test(entry?.fencingToken ?? ''), 'a fencing token');
  const text = (await runPglock(['status', '-d', url, '--key', key])).stdout.toString();
  t.match(text, `no advisory locks for key '${key}'`);
  t.match(text, new RegExp(`last run of '${key}': started .* on ${host} \\(pid \\d+\\), was killed by SIGTERM after`));
  const all = (await runPglock(['status', '-d', url])).stdout.toString();
  t.match(all, /last recorded runs \(public\.pglock_runs\):\nKEY +STARTED +PGLOCK +OUTCOME +FENCING TOKEN\n/);
  t.match(all, new RegExp(`${key} +[\\d.]+m?s ago \\(.*Z\\) +${host}:\\d+ +was killed by SIGTERM`));
  const none = (await runPglock(['status', '-d', url, '--key', uniqueKey('never')])).stdout.toString();
  t.match(none, /no recorded run of '.*' \(runs are recorded with --record, --min-interval or --fencing-token\)/);
});

t.test('usage: --min-interval with --shared, zero, or not a duration: exit 64, one line', async (t) => {
  for (const args of [['--min-interval', '1h', '--shared'], ['--min-interval', '0'], ['--min-interval', 'soon'], ['--min-interval', '4000d']]) {
    const result = await runPglock(['-d', url, '-k', uniqueKey('usage'), ...args, '--', 'echo', 'must not run']);
    t.equal(result.code, 64, args.join(' '));
    t.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr.trim()}`);
    t.equal(result.stdout.length, 0);
  }
});

t.test('library: minIntervalMs rejects with a RecentRunError (a LockBusyError) carrying the last run; withLock records the end', async (t) => {
  const key = uniqueKey('library');
  t.equal(await withLock({ url, key, minIntervalMs: 60_000 }, (lock) => lock.fencingToken !== undefined), true, 'a run record means a fencing token');
  const error = await acquireLock({ url, key, minIntervalMs: 60_000 }).then(() => undefined, (e: unknown) => e);
  t.ok(error instanceof RecentRunError && error instanceof LockBusyError, 'a RecentRunError, which is a LockBusyError');
  const recent = error as RecentRunError;
  t.equal(recent.exitCode, 75);
  t.equal(recent.code, 'ERECENTRUN');
  t.match(recent.lastRun, { key, outcome: 'completed', host, pid: process.pid });
  t.ok(recent.lastRun.ageMs < 60_000);
  t.match(recent.message, /the last run of '.*' started [\d.]+m?s ago on .* and completed after [\d.]+m?s, less than the minimum interval \(1m\) ago/);

  const other = uniqueKey('library-failed');
  await t.rejects(withLock({ url, key: other, record: true }, () => { throw new Error('job failed'); }), /job failed/);
  t.match(await lastRun(other), { outcome: 'failed' });
  const lock = await acquireLock({ url, key: other, record: true });
  t.equal(lock.previousRun?.outcome, 'failed', 'the lock knows the run before it');
  await lock.release({ end: { outcome: 'exited', exitCode: 7 } });
  t.match(await lastRun(other), { outcome: 'exited', exitCode: 7 });
  await t.rejects(acquireLock({ url, key: other, shared: true, minIntervalMs: 1000 }), { code: 'EUSAGE' });
});

t.test('the record survives a server restart; plain runs write nothing', async (t) => {
  const own = await startTestServer(t, { own: true });
  const tableExists = async () => (await own.admin.unsafe<{ t: string | null }[]>("select to_regclass('public.pglock_runs')::text as t"))[0]?.t ?? null;
  const key = uniqueKey('restart');
  for (const args of [[], ['--wait'], ['-n', '2'], ['--shared'], ['-t', '1s']]) {
    t.equal((await runPglock(['-d', own.url, '-k', key, ...args, '--', 'true'])).code, 0, `plain run ${args.join(' ')}`);
  }
  t.equal((await runPglock(['status', '-d', own.url])).code, 0);
  t.equal(await tableExists(), null, 'no run record table after plain runs and status');

  t.equal((await runPglock(['-d', own.url, '-k', key, '--min-interval', '1h', '--', 'true'])).code, 0);
  t.equal(await tableExists(), 'pglock_runs', 'created on first use');
  const before = await lastRun(key, own.url);
  t.equal((await runPglock(['-d', own.url, '-k', key, '--', 'true'])).code, 0);
  t.same(await lastRun(key, own.url).then((run) => run?.fencingToken), before?.fencingToken, 'a plain run leaves the record alone');

  await own.admin.end({ timeout: 1 }).catch(() => undefined);
  await own.stop();
  await own.start();
  const after = await lastRun(key, own.url);
  t.match(after, { outcome: 'exited', exitCode: 0, fencingToken: before?.fencingToken, startedAt: before?.startedAt }, 'the record survives the restart');
  const skipped = await runPglock(['-d', own.url, '-k', key, '--min-interval', '1h', '--', 'echo', 'must not run']);
  t.equal(skipped.code, 75, 'and still counts after it');
});
