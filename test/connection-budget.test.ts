// Issue 14, waiters beyond the connection budget: every waiting pglock holds one server connection,
// so a role of its own with a CONNECTION LIMIT caps what pglock can take from the server. Past the
// limit, waiters poll for a slot (capped, jittered backoff) until their own deadline, not only for
// --connect-timeout; the application, on another role, keeps connecting throughout; fail-fast runs
// give up after --connect-timeout with exit 69; running holders are never touched.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import t from 'tap';
import { lockIdForKey } from '../src/key/lock-id.js';
import { type TestServer, startTestServer, uniqueKey } from './helpers/server.js';
import { FIXTURES, PGLOCK_BIN, type RunResult, cleanEnv, eventually, runPglock, startPglock } from './helpers/run-pglock.js';
import { lockRows } from './helpers/locks.js';
import { maxConcurrency, maxOverlapMs, readSections } from './helpers/overlap.js';

const SLOT_WAIT = /waiting for a connection slot/;
const GOT_SLOT = /got a connection slot after (\d+) tries/;

// Dozens of pglock processes at once, so each start should cost as little as it can: without
// NODE_EXTRA_CA_CERTS (parsed at every Node start; these servers do not use TLS), and, for the
// crowds below, without tap's per-process hook (@tapjs/processinfo adds its NODE_OPTIONS --import
// to every child the test spawns, which more than doubles a Node start; the crowd's bash drops it).
// A C locale for bash's $EPOCHREALTIME.
const ENV: Record<string, string | undefined> = { LC_ALL: 'C', NODE_EXTRA_CA_CERTS: undefined };

// A critical section that writes the same "start <label> <ms>" / "end <label> <ms>" lines as
// fixtures/record.mjs (read by helpers/overlap.ts), from bash: a Node start per section would add
// a serial 0.1–1 s (on a loaded machine) to every handoff of a 60-long queue. With a `release`
// file it lasts until that file exists (a holder the test lets go of); else `ms` milliseconds.
const STAMP = 'stamp() { local t=${EPOCHREALTIME/[.,]/}; echo "$1 $2 ${t:0:-3}.${t: -3}" >> "$0"; }';
function section(log: string, label: string, ms: number): string[] {
  return ['bash', '-c', `${STAMP}; stamp start "$1"; sleep ${ms / 1000}; stamp end "$1"`, log, label];
}
function sectionUntil(log: string, label: string, release: string): string[] {
  // Also ends should the test process be gone (a test timeout must not leave holders behind).
  return ['bash', '-c', `${STAMP}; stamp start "$1"; while [ ! -e "$2" ] && kill -0 "$3" 2> /dev/null; do sleep 0.02; done; stamp end "$1"`,
    log, label, release, String(process.pid)];
}

/** A scratch directory, removed at teardown (after the processes writing into it are gone). */
function scratchDir(t: { teardown(fn: () => unknown): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A login role with a password (and optionally a CONNECTION LIMIT); returns its URL. */
async function createRole(sql: postgres.Sql, server: TestServer, name: string, limit?: number): Promise<string> {
  const password = `pw-${name}-${Math.random().toString(36).slice(2)}`;
  await sql.unsafe(`create role ${name} login password '${password}'${limit === undefined ? '' : ` connection limit ${limit}`}`);
  const url = new URL(server.url);
  url.username = name;
  url.password = password;
  return url.toString();
}

// The application (fixtures/application-probe.mjs), in a process of its own.
interface ApplicationSeen {
  attempts: number;
  failures: string[];
  latencies: number[];
  /** The most sessions of the pglock role seen at once. */
  peak: number;
}

async function startApplication(url: string, pglockRole: string, everyMs = 200): Promise<{ stop(): Promise<ApplicationSeen & { slowestMs: number }> }> {
  const child = spawn('bash', ['-c', 'unset NODE_OPTIONS "${!_TAPJS_PROCESSINFO_@}"; exec "$0" "$@"',
    process.execPath, join(FIXTURES, 'application-probe.mjs'), url, pglockRole, String(everyMs), 'budget-test-app'], {
    stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv(ENV),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    async stop() {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`the application poller failed (exit ${code}): ${stderr}`);
      const seen = JSON.parse(stdout) as ApplicationSeen;
      return { ...seen, slowestMs: Math.max(0, ...seen.latencies) };
    },
  };
}

// Dozens of pglock processes started by one bash loop rather than one spawn() each: a spawn()
// blocks the test until the child has exec'd, which on a loaded 2-core machine takes 0.4–1.3 s
// per process (measured), so 60 would trickle in over a minute, one at a time; bash forks them all
// in a moment and they start together. Each member's stderr, stdout, pid and exit code go to files.
const CROWD = `
node=$1 bin=$2 dir=$3 n=$4 prefix=$5; shift 5
unset NODE_OPTIONS "\${!_TAPJS_PROCESSINFO_@}"
exec 3<&0
for ((i = 0; i < n; i++)); do
  "$node" "$bin" "$@" "$prefix$i" < /dev/null > "$dir/$i.out" 2> "$dir/$i.err" &
  pids[i]=$!
  echo "\${pids[i]}" > "$dir/$i.pid"
done
# The test closes our stdin to stop the crowd (teardown), or dies and it closes by itself.
( read -r _ <&3; kill "\${pids[@]}" 2> /dev/null ) &
watcher=$!
for ((i = 0; i < n; i++)); do
  wait "\${pids[i]}"
  echo $? > "$dir/$i.code"
done
kill "$watcher" 2> /dev/null
exit 0
`;

interface Crowd {
  /** Member i's stderr so far. */
  stderrOf(i: number): string;
  /** Member i's pid, once it has been started. */
  pidOf(i: number): number | undefined;
  /** Every member's result (a signal shows as code 128+N), once all have exited. */
  results: Promise<RunResult[]>;
}

/**
 * Start `count` pglock processes with `args` plus one last argument, `${prefix}${i}`, in `dir`.
 * At teardown the members still running get SIGTERM.
 */
function startCrowd(t: { teardown(fn: () => unknown): void }, count: number, prefix: string, args: string[], dir: string): Crowd {
  mkdirSync(dir, { recursive: true });
  const read = (file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : '');
  const launcher = spawn('bash', ['-c', CROWD, 'crowd', process.execPath, PGLOCK_BIN, dir, String(count), prefix, ...args], {
    env: cleanEnv(ENV), stdio: ['pipe', 'ignore', 'pipe'],
  });
  let launcherErr = '';
  launcher.stderr.on('data', (chunk: Buffer) => (launcherErr += chunk.toString()));
  const results = new Promise<RunResult[]>((resolve, reject) => {
    launcher.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the crowd launcher failed (exit ${code}): ${launcherErr}`));
      resolve(Array.from({ length: count }, (_, i) => ({
        code: read(`${i}.code`).trim() === '' ? null : Number(read(`${i}.code`).trim()),
        signal: null,
        stdout: Buffer.from(read(`${i}.out`)),
        stderr: read(`${i}.err`),
      })));
    });
  });
  t.teardown(() => launcher.stdin.end());
  return {
    stderrOf: (i) => read(`${i}.err`),
    pidOf: (i) => Number(read(`${i}.pid`).trim()) || undefined,
    results,
  };
}

/** Poll `check` every `everyMs` until it returns true (or throw after `timeoutMs`). */
async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Advisory-lock waiters on the server (not granted). */
async function waitingOnServer(admin: postgres.Sql): Promise<number> {
  const [row] = await admin<{ n: number }[]>`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`;
  return row?.n ?? 0;
}

/** Times (ms) of the --log-format json lines whose message matches. */
function logTimes(stderr: string, pattern: RegExp): number[] {
  return stderr.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    const entry = JSON.parse(line) as { time: string; message: string };
    return pattern.test(entry.message) ? [Date.parse(entry.time)] : [];
  });
}

function summarizeExits(results: RunResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) counts.set(String(r.code ?? r.signal), (counts.get(String(r.code ?? r.signal)) ?? 0) + 1);
  return [...counts].map(([code, n]) => `${n}× exit ${code}`).join(', ');
}

/** The failures, grouped by exit code and last stderr line (JSON logs: its message). */
function failureReasons(results: RunResult[]): string {
  const reasons = new Map<string, number>();
  for (const r of results.filter((r) => r.code !== 0)) {
    const last = r.stderr.trim().split('\n').at(-1) ?? '';
    let message = last;
    try {
      message = (JSON.parse(last) as { message: string }).message;
    } catch {
      // a text line
    }
    const reason = `exit ${r.code ?? r.signal}: ${message.replace(/127\.0\.0\.1:\d+/g, 'HOST')}`;
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  return [...reasons].map(([reason, n]) => `; ${n}× ${reason}`).join('');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

// Two servers of our own, started at once (initdb and a start take seconds on a loaded machine).
// max_connections 56: 53 for roles without SUPERUSER; 60 waiters without a role limit would take
// them all, with CONNECTION LIMIT 20 on pglock's role the application keeps its headroom. That
// headroom must also hold the pollers' refused tries: PostgreSQL checks a role's limit only after
// the new backend has taken a connection slot and authenticated, so each refused try holds a slot
// for a backend start (with 41 pollers on a loaded CI machine, 14 free slots were once not enough
// and the application got "remaining connection slots are reserved", 53300).
// max_connections 8: see the last test.
const [server, small] = await Promise.all([
  startTestServer(t, { own: true, settings: { max_connections: 56 } }),
  startTestServer(t, { own: true, settings: { max_connections: 8 } }),
]);

t.test('a role with a connection limit: the queue drains past the limit and the application keeps connecting', async (t) => {
  const admin = server.admin;

  t.test('60 --wait --timeout 2m contenders, CONNECTION LIMIT 20, 300 ms sections', async (t) => {
    const limit = 20;
    const count = 60;
    const pglockUrl = await createRole(admin, server, 'pglock_budget', limit);
    const appUrl = await createRole(admin, server, 'app_budget');
    const key = uniqueKey('budget');
    const dir = scratchDir(t, 'pglock-budget-');
    const log = join(dir, 'sections.log');
    const release = join(dir, 'release');
    const args = (command: string[]) => ['-d', pglockUrl, '-k', key, '--wait', '--timeout', '2m', '-v', '--log-format', 'json', '--', ...command];

    t.teardown(() => writeFileSync(release, ''));
    const app = await startApplication(appUrl, 'pglock_budget');
    // A gate holder (on the same role) keeps the lock until the budget is used up: 19 contenders
    // queued on the server, the other 41 polling for a slot. Without it the first contenders could
    // be done before the last ones start. Once it lets go, the last pollers wait for ~40 handoffs
    // of at least 300 ms each: past the default 10s --connect-timeout.
    const gate = startPglock(args(sectionUntil(log, 'gate', release)), { env: ENV });
    await gate.waitForStderr(/running /, 30_000);
    const started = Date.now();
    const crowd = startCrowd(t, count, 'c', args(section(log, 'LABEL', 300)).slice(0, -1), join(dir, 'crowd'));
    const stderrs = () => Array.from({ length: count }, (_, i) => crowd.stderrOf(i));
    const polling = () => stderrs().filter((stderr) => SLOT_WAIT.test(stderr));
    let queued = 0;
    await until(async () => {
      queued = await waitingOnServer(admin);
      return queued >= limit - 1 && polling().length >= count - (limit - 1);
    }, 90_000, 'the connection budget to be used up');
    const queueUpMs = Date.now() - started;
    t.pass(`budget used up after ${queueUpMs} ms: ${queued} queued on the server, ${polling().length} polling for a slot`);
    writeFileSync(release, '');
    const results = await crowd.results;
    const wallMs = Date.now() - started;
    const gateResult = await gate.result;
    const application = await app.stop();
    const peak = application.peak;

    t.equal(gateResult.code, 0, 'the gate holder exited 0');
    t.same(results.map((r) => r.code), Array(count).fill(0), `every contender exited 0 (${summarizeExits(results)})${failureReasons(results)}`);
    t.equal(results.filter((r) => r.code === 69).length, 0, 'none gave up with 69');
    const sections = readSections(log);
    t.equal(sections.length, count + 1, 'every child ran (and the gate)');
    t.equal(new Set(sections.map((s) => s.label)).size, count + 1, 'each exactly once');
    t.ok(sections.every((s) => Number.isFinite(s.end)), 'every section ended');
    const overlap = maxOverlapMs(sections);
    t.ok(overlap <= 0, `no two critical sections overlapped (worst ${overlap.toFixed(3)} ms)`);
    t.ok(peak <= limit, `the role never had more than its ${limit} sessions (peak seen ${peak})`);
    t.ok(application.attempts >= 20, `the application connected ${application.attempts} times during the run`);
    t.same(application.failures, [], 'every application connection and select 1 succeeded');

    const polled = results.filter((r) => SLOT_WAIT.test(r.stderr));
    const tries = polled.map((r) => Number(GOT_SLOT.exec(r.stderr)?.[1] ?? 0));
    t.ok(polled.length >= count - (limit - 1), `${polled.length} of ${count} had to poll for a slot`);
    t.ok(tries.every((n) => n >= 2), 'every one that polled says after how many tries it got a slot');
    // The default --connect-timeout is 10s: pollers kept trying past it, until a slot freed.
    const spans = polled.map((r) => {
      const times = logTimes(r.stderr, SLOT_WAIT);
      return (times.at(-1) ?? 0) - (times[0] ?? 0);
    });
    const longest = Math.max(0, ...spans);
    t.ok(longest > 10_000, `pollers kept trying past the default 10s connect timeout (longest ${longest} ms)`);
    const drainMs = Math.max(...sections.map((s) => s.end)) - sections.find((s) => s.label === 'gate')!.end;
    t.comment(`budget: ${count} contenders, role limit ${limit}: wall ${wallMs} ms (budget used up after ${queueUpMs} ms, queue drained in ${drainMs.toFixed(0)} ms); ` +
      `${polled.length} polled for a slot, for up to ${longest} ms (median ${median(spans)} ms), tries max ${Math.max(0, ...tries)}, ` +
      `median ${median(tries)}; peak role sessions ${peak}; application: ${application.attempts} connections, ` +
      `${application.failures.length} failed, slowest ${application.slowestMs} ms`);
  });

  t.test('--limit 3 under a CONNECTION LIMIT of 8: the head waiter polls for its slot connections', async (t) => {
    const limit = 8;
    const count = 15;
    const pglockUrl = await createRole(admin, server, 'pglock_semaphore', limit);
    const key = uniqueKey('budget-limit');
    const gateId = BigInt.asIntN(64, lockIdForKey(key) - 1n);
    const dir = scratchDir(t, 'pglock-budget-limit-');
    const log = join(dir, 'sections.log');
    const release = join(dir, 'release');
    const args = (command: string[]) => ['-d', pglockUrl, '-k', key, '--limit', '3', '--wait', '--timeout', '2m', '-v', '--', ...command];

    t.teardown(() => writeFileSync(release, ''));
    const app = await startApplication(await createRole(admin, server, 'app_semaphore'), 'pglock_semaphore');
    // Three holders take the three slots. The test (a superuser: outside the role's budget) holds
    // the queue's gate lock, so contenders queue on it, one session each, until the role's 8 are
    // used up (3 holders + 5 queued); the rest poll. Then the test lets go of the gate: the first
    // in the queue becomes its head, finds every slot taken and opens two more sessions, one per
    // other slot, with none free in the budget: it must poll for them.
    const gateSession = await admin.reserve();
    t.teardown(() => gateSession.release());
    await gateSession.unsafe(`select pg_advisory_lock(${gateId})`);
    const holders = [0, 1, 2].map((i) => startPglock(args(sectionUntil(log, `h${i}`, release)), { env: ENV }));
    await Promise.all(holders.map((h) => h.waitForStderr(/running /, 30_000)));
    const started = Date.now();
    const crowd = startCrowd(t, count, 's', args(section(log, 'LABEL', 300)).slice(0, -1), join(dir, 'crowd'));
    const pids = () => Array.from({ length: count }, (_, i) => crowd.pidOf(i));
    const slotWaits = (i: number) => crowd.stderrOf(i).split('\n').filter((line) => SLOT_WAIT.test(line)).length;
    await until(async () => (await waitingOnServer(admin)) >= limit - 3 && pids().some((_, i) => slotWaits(i) > 0),
      60_000, 'the budget to be used up by queued contenders');
    const before = pids().map((_, i) => slotWaits(i));
    await gateSession.unsafe(`select pg_advisory_unlock(${gateId})`);
    let head = -1;
    await until(async () => {
      const gateHolder = (await lockRows(admin, gateId)).find((row) => row.granted);
      if (!gateHolder) return false;
      const [activity] = await admin<{ application_name: string }[]>`select application_name from pg_stat_activity where pid = ${gateHolder.pid}`;
      head = pids().indexOf(Number(/:(\d+)$/.exec(activity?.application_name ?? '')?.[1]));
      return head >= 0 && slotWaits(head) > before[head]!;
    }, 30_000, 'the head of the queue to poll for its slot sessions');
    t.pass(`the head of the queue (s${head}) polls for its slot sessions: ` +
      `${crowd.stderrOf(head).split('\n').filter((line) => SLOT_WAIT.test(line)).at(-1)}`);
    writeFileSync(release, '');
    const results = await crowd.results;
    const wallMs = Date.now() - started;
    const held = await Promise.all(holders.map((h) => h.result));
    const application = await app.stop();
    const peak = application.peak;

    t.same(held.map((r) => r.code), [0, 0, 0], 'the holders exited 0');
    t.same(results.map((r) => r.code), Array(count).fill(0), `every contender exited 0 (${summarizeExits(results)})${failureReasons(results)}`);
    t.equal(results.filter((r) => r.code === 69).length, 0, 'none gave up with 69');
    const headResult = results[head]!;
    t.equal(headResult.code, 0, 'the head waiter ran too');
    const sections = readSections(log);
    t.equal(sections.length, count + 3, 'every child ran (and the holders)');
    t.equal(new Set(sections.map((s) => s.label)).size, count + 3, 'each exactly once');
    const most = maxConcurrency(sections);
    t.ok(most <= 3, `at most 3 ran at once (max ${most})`);
    t.ok(peak <= limit, `the role never had more than its ${limit} sessions (peak seen ${peak})`);
    t.same(application.failures, [], `the application connected ${application.attempts} times, every time`);
    const polled = results.filter((r) => SLOT_WAIT.test(r.stderr)).length;
    const reconnected = results.filter((r) => /connecting again/.test(r.stderr)).length;
    t.comment(`limit 3, role limit ${limit}, ${count} contenders: wall ${wallMs} ms, max ${most} at once, ${polled} polled for a slot ` +
      `(the head too: ${GOT_SLOT.exec(headResult.stderr)?.[0]}), ${reconnected} reconnected, peak role sessions ${peak}`);
  });
});

t.test('out of connection slots: fail fast exits 69, a waiter waits until its deadline, holders keep running', async (t) => {
  // max_connections 8 with superuser_reserved_connections 3 (reserved_connections 0): roles without
  // SUPERUSER get 5 connections. The idle sessions below take every one that is left.
  const server = small;
  // Our own superuser client, one connection kept open (server.admin, never used here, would close
  // idle connections and so free a slot in the middle of the test).
  const sql = postgres(server.url, { max: 1, idle_timeout: 0, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 1 }));
  const [settings] = await sql<{ max: string; superuser: string; reserved: string | null }[]>`
    select current_setting('max_connections') as max, current_setting('superuser_reserved_connections') as superuser,
           current_setting('reserved_connections', true) as reserved`;
  t.comment(`max_connections ${settings?.max}, superuser_reserved_connections ${settings?.superuser}, reserved_connections ${settings?.reserved ?? '-'}`);
  const pglockUrl = await createRole(sql, server, 'pglock_role');
  const fillerUrl = await createRole(sql, server, 'filler');
  const key = uniqueKey('slots');
  const dir = scratchDir(t, 'pglock-slots-');

  // A holder that runs until the file `release` exists.
  const release = join(dir, 'release');
  t.teardown(() => writeFileSync(release, ''));
  const holder = startPglock(['-d', pglockUrl, '-k', key, '-v', '--', 'sh', '-c', 'while [ ! -e "$1" ] && kill -0 "$2" 2> /dev/null; do sleep 0.02; done',
    'sh', release, String(process.pid)], { env: ENV });
  await holder.waitForStderr(/running /, 30_000);

  // Idle sessions of another role until the server refuses one: no slot is left for non-superusers.
  const fillers: postgres.Sql[] = [];
  t.teardown(() => Promise.all(fillers.map((f) => f.end({ timeout: 0 }))));
  let refusal = '';
  for (let i = 0; i < 10 && !refusal; i++) {
    const filler = postgres(fillerUrl, { max: 1, idle_timeout: 0, onnotice: () => {}, connect_timeout: 30 });
    try {
      await filler`select 1`;
      fillers.push(filler);
    } catch (error) {
      refusal = `${(error as Error).message} (${(error as { code?: string }).code})`;
      await filler.end({ timeout: 0 });
    }
  }
  t.match(refusal, /53300/, `the server is out of slots after ${fillers.length} idle sessions: ${refusal}`);

  t.test('fail fast: exit 69 after --connect-timeout, one line naming the cause', async (t) => {
    const started = Date.now();
    const failFast = await runPglock(['-d', pglockUrl, '-k', key, '--connect-timeout', '1s', '--', 'true'], { env: ENV });
    const elapsed = Date.now() - started;
    t.equal(failFast.code, 69, 'exit 69');
    const lines = failFast.stderr.trim().split('\n');
    t.equal(lines.length, 1, `one line: ${failFast.stderr.trim()}`);
    t.match(lines[0], /no free connection slot/, 'names the cause');
    t.match(lines[0], /53300/, 'with the SQLSTATE');
    t.match(lines[0], /running sessions are not affected/, 'says running sessions are not affected');
    t.ok(elapsed >= 1000, `kept trying for the connect timeout (${elapsed} ms)`);
    t.equal(holder.child.exitCode, null, 'the holder is still running');
    t.comment(`fail fast gave up after ${elapsed} ms: ${lines[0]}`);
  });

  t.test('--timeout 3s (with --connect-timeout 1s): keeps trying for 3 s, then exits 75', async (t) => {
    const started = Date.now();
    const waiter = await runPglock(['-d', pglockUrl, '-k', key, '--timeout', '3s', '--connect-timeout', '1s', '-v', '--', 'true'], { env: ENV });
    const elapsed = Date.now() - started;
    const last = waiter.stderr.trim().split('\n').at(-1) ?? '';
    t.equal(waiter.code, 75, `exit 75: ${last}`);
    t.ok(elapsed >= 3000, `kept trying until the wait's deadline, not the connect timeout (${elapsed} ms)`);
    t.ok(elapsed < 10_000, `and not much longer (${elapsed} ms)`);
    t.match(last, /timed out after 3s/, 'a timeout');
    t.match(last, /no free connection slot/, 'naming the connection error');
    t.match(last, /53300/, 'with the SQLSTATE');
    const retries = waiter.stderr.split('\n').filter((line) => SLOT_WAIT.test(line)).length;
    t.ok(retries >= 3, `logged its tries with -v (${retries})`);
    t.equal(holder.child.exitCode, null, 'the holder is still running');
    t.comment(`--timeout 3s gave up after ${elapsed} ms and ${retries} logged retries: ${last}`);
  });

  t.test('a slot frees before the deadline: the waiter gets in, queues and runs', async (t) => {
    const waiter = startPglock(['-d', pglockUrl, '-k', key, '--timeout', '60s', '--connect-timeout', '1s', '-v', '--', 'echo', 'ran'], { env: ENV });
    await waiter.waitForStderr(SLOT_WAIT, 30_000);
    const firstTry = Date.now();
    // Past its connect timeout and still out of slots: it must still be trying.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    t.equal(waiter.child.exitCode, null, `still trying ${Date.now() - firstTry} ms after its first failed try`);
    await Promise.all(fillers.splice(0).map((f) => f.end({ timeout: 1 })));
    // Connected: now it waits on the server for the holder's lock.
    await eventually(async () => (await waitingOnServer(sql)) === 1, 30_000, 'the waiter to queue for the lock');
    t.equal(holder.child.exitCode, null, 'the holder is still running');
    writeFileSync(release, '');
    const held = await holder.result;
    t.equal(held.code, 0, 'the holder that was running all along exited 0');
    const result = await waiter.result;
    t.equal(result.code, 0, `the waiter ran (${result.stderr.trim().split('\n').at(-1)})`);
    t.equal(result.stdout.toString(), 'ran\n', 'its command ran');
    const tries = Number(GOT_SLOT.exec(result.stderr)?.[1]);
    t.ok(tries >= 2, `with -v it says so: "${GOT_SLOT.exec(result.stderr)?.[0]}"`);
  });
});
