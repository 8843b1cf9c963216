// 6. Budget: more waiters than connections (issue 14). Every waiting pglock holds one backend, so
// pglock runs as a role of its own with a CONNECTION LIMIT below the application's headroom. Past
// the limit, a waiter cannot even connect: with --wait/--timeout it polls for a connection slot
// (capped, jittered backoff) until its own deadline, then queues on the server like the others.
//
// N `pglock --wait --timeout 2m` processes on one key, as a role with CONNECTION LIMIT L, each
// running a logged critical section (300 ms). As in the scale measurement, a gate holder (one more
// pglock of the same role, its command held by a FIFO) keeps the lock until the budget is used
// up: L − 1 waiters queued on the server and the other N − L + 1 polling for a slot. Meanwhile an
// "application" (another role, no limit, its own process so that spawning cannot stall it) opens a
// fresh connection every 200 ms and runs `select 1`, and counts the pglock role's sessions.
//
// Reported, pglock only: wall (first spawn to last exit), queue-up (to the gate's release), drain
// (gate release to last exit), how many waiters had to poll and for how long (first to last failed
// try), the failed connection attempts in all (each one a backend the server forks, authenticates
// and turns away), the exit codes (all 0; none 69), overlaps (0), the role's peak sessions (≤ L)
// and the application's connections (all must succeed) and their slowest.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeExit, start, within } from '../lib/processes.js';
import { openGate } from '../lib/gate.js';
import { analyzeSections, sectionCommand } from '../lib/sections.js';
import { msBetween, sleep, summarize } from '../lib/stats.js';
import { PGLOCK_BIN } from '../lib/tools.js';

const ROLE = 'pglock_bench_budget';
const APP_ROLE = 'pglock_bench_app';
const SLOT_WAIT = /waiting for a connection slot/;
const GOT_SLOT = /got a connection slot after (\d+) tries/;
const QUEUE_TIMEOUT_MS = 120_000;

export async function measureBudget({ url, admin, env, dir, config, progress }) {
  const { count, roleLimit, sectionSeconds } = config;
  const problems = [];
  const roleUrl = await createRole(admin, url, ROLE, roleLimit);
  const appUrl = await createRole(admin, url, APP_ROLE);
  try {
    const key = 'bench:budget';
    const logFile = join(dir, 'budget.log');
    writeFileSync(logFile, '');
    const pglockArgs = (command) => ['-d', roleUrl, '-k', key, '--wait', '--timeout', '2m', '-v', '--log-format', 'json', '--', ...command];

    const app = startApplication({ url: appUrl, role: ROLE, env, file: join(dir, 'budget-app.json') });
    const gate = await openGate({ argv: (command) => [PGLOCK_BIN, pglockArgs(command)], dir, env, name: 'budget-gate', timeoutMs: 30_000 });
    // Each waiter's stderr (JSON lines) goes to a file of its own: it is read while they run.
    const errFile = (i) => join(dir, `budget-${i}.err`);
    const [file, args] = [PGLOCK_BIN, pglockArgs(sectionCommand(logFile, sectionSeconds))];
    const processes = [];
    for (let i = 0; i < count; i++) {
      writeFileSync(errFile(i), '');
      processes.push(start('sh', ['-c', 'f=$1; shift; exec "$@" 2> "$f"', 'sh', errFile(i), file, ...args], { env }));
    }
    const firstSpawn = processes[0].started;
    const stderrOf = (i) => readFileSync(errFile(i), 'utf8');
    const polling = () => processes.filter((_, i) => SLOT_WAIT.test(stderrOf(i))).length;

    let queue;
    try {
      queue = await waitForBudget(admin, () => polling(), { queued: roleLimit - 1, polling: count - (roleLimit - 1) });
    } finally {
      gate.release();
    }
    const released = process.hrtime.bigint();
    if (!queue.full) problems.push(`budget: only ${queue.queued} queued and ${queue.polling} polling when the gate opened`);
    const exits = await within(300_000, Promise.all(processes.map((p) => p.exited)), `${count} budget waiters`);
    const gateExit = await within(10_000, gate.exited, 'the budget gate holder to exit');
    gate.close();
    if (gateExit.code !== 0) problems.push(`budget: the gate holder failed: ${describeExit(gateExit)}`);
    const seen = await app.stop();

    const lastExit = exits.reduce((latest, exit) => (exit.at > latest ? exit.at : latest), firstSpawn);
    const logs = processes.map((_, i) => parseLog(stderrOf(i)));
    const pollers = logs.filter((log) => log.slotWaits.length > 0);
    const spans = pollers.map((log) => log.slotWaits.at(-1) - log.slotWaits[0]);
    const tries = pollers.map((log) => log.triesToSlot ?? 0);
    const codes = exits.map((exit) => exit.code);
    const analysis = analyzeSections(readFileSync(logFile, 'utf8'));

    problems.push(...analysis.problems.map((problem) => `budget: ${problem}`));
    if (analysis.sections.length !== count) problems.push(`budget: ${analysis.sections.length} sections recorded, expected ${count}`);
    const bad = exits.filter((exit) => exit.code !== 0);
    if (bad.length > 0) {
      const error = logs[exits.indexOf(bad[0])].lastError;
      problems.push(`budget: ${bad.length} of ${count} waiters failed, e.g. ${describeExit(bad[0])}${error ? `: ${error}` : ''}`);
    }
    if (seen.failures.length > 0) problems.push(`budget: ${seen.failures.length} application connections failed, e.g. ${seen.failures[0]}`);
    if (seen.peak > roleLimit) problems.push(`budget: the role had ${seen.peak} sessions, over its limit of ${roleLimit}`);

    const summary = {
      pglock: {
        wallMs: msBetween(firstSpawn, lastExit),
        queueUpMs: msBetween(firstSpawn, released),
        drainMs: msBetween(released, lastExit),
        polled: pollers.length,
        failedAttempts: pollers.reduce((sum, log) => sum + log.slotWaits.length, 0),
        longestPollMs: Math.max(0, ...spans),
        medianPollMs: summarize(spans)?.median ?? 0,
        maxTries: Math.max(0, ...tries),
        sections: analysis.sections.length,
        overlaps: analysis.overlaps,
        exitedZero: codes.filter((code) => code === 0).length,
        exited69: codes.filter((code) => code === 69).length,
        peakRoleSessions: seen.peak,
        appConnections: seen.attempts,
        appFailures: seen.failures.length,
        appSlowestMs: seen.slowestMs,
        appMedianMs: seen.medianMs,
      },
    };
    const s = summary.pglock;
    progress(`budget: ${count} waiters, role limit ${roleLimit}: wall ${s.wallMs.toFixed(0)} ms (queue-up ${s.queueUpMs.toFixed(0)}, ` +
      `drain ${s.drainMs.toFixed(0)}), ${s.polled} polled (longest ${s.longestPollMs} ms, ${s.failedAttempts} failed tries), ` +
      `exit 0 × ${s.exitedZero}, 69 × ${s.exited69}, ${s.overlaps} overlaps; application ${s.appConnections} connections, ` +
      `${s.appFailures} failed, slowest ${s.appSlowestMs} ms`);
    return { count, roleLimit, samples: { codes, spans, tries, appLatenciesMs: seen.latencies }, summary, problems };
  } finally {
    await admin.unsafe(`drop role if exists ${ROLE}`).catch(() => {});
    await admin.unsafe(`drop role if exists ${APP_ROLE}`).catch(() => {});
  }
}

async function createRole(admin, url, name, limit) {
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  await admin.unsafe(`drop role if exists ${name}`);
  await admin.unsafe(`create role ${name} login password '${password}'${limit === undefined ? '' : ` connection limit ${limit}`}`);
  const roleUrl = new URL(url);
  roleUrl.username = name;
  roleUrl.password = password;
  return roleUrl.toString();
}

/** One waiter's JSON log: the times of its failed tries, after how many tries it got a slot, its error. */
function parseLog(text) {
  const slotWaits = [];
  let triesToSlot;
  let lastError;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (SLOT_WAIT.test(entry.message)) slotWaits.push(Date.parse(entry.time));
    const got = GOT_SLOT.exec(entry.message);
    if (got) triesToSlot = Number(got[1]);
    if (entry.level === 'error') lastError = entry.message;
  }
  return { slotWaits, triesToSlot, lastError };
}

/** Wait until `queued` waiters are queued on the server and `polling` poll for a slot (or time out). */
async function waitForBudget(admin, countPolling, want) {
  const deadline = Date.now() + QUEUE_TIMEOUT_MS;
  let now = { queued: 0, polling: 0, full: false };
  while (Date.now() < deadline) {
    const [{ queued }] = await admin`select count(*)::int as queued from pg_locks where locktype = 'advisory' and not granted`;
    now = { queued, polling: countPolling(), full: false };
    if (now.queued >= want.queued && now.polling >= want.polling) return { ...now, full: true };
    await sleep(100);
  }
  return now;
}

// The application: test/fixtures/application-probe.mjs, in a process of its own (spawning dozens
// of processes blocks the bench's event loop, which would show up as slow application connects).
const APPLICATION_PROBE = fileURLToPath(new URL('../../test/fixtures/application-probe.mjs', import.meta.url));

function startApplication({ url, role, env, file }) {
  const child = start(process.execPath, [APPLICATION_PROBE, url, role, '200', 'pglock-bench-app', file], { env, captureStderr: true });
  return {
    async stop() {
      child.child.kill('SIGTERM');
      const exit = await within(15_000, child.exited, 'the budget application poller to exit');
      if (exit.code !== 0) throw new Error(`the application poller failed: ${describeExit(exit)}`);
      const seen = JSON.parse(readFileSync(file, 'utf8'));
      const latency = summarize(seen.latencies);
      return { ...seen, slowestMs: latency?.max ?? 0, medianMs: latency?.median ?? 0 };
    },
  };
}
