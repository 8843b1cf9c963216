// 2. Handoff latency: from the holder's command exiting to the waiter's command starting, i.e.
// how long a lock stays idle between two jobs. FIFOs mark both moments without polling:
//
//   holder command:  sh -c 'echo > "$1"; read _ < "$2"' sh HOLD_READY GO
//   waiter command:  sh -c 'echo > "$1"' sh WAITER_STARTED
//
// The bench waits for HOLD_READY (the holder has the lock and its command runs), starts the
// waiter, waits until the waiter is really queued on the lock, then takes t0 and writes GO (the
// holder's command exits) and takes t1 when WAITER_STARTED arrives. Both sides use the same
// shell commands for every tool, so shell start-up costs cancel out in the comparison.
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FifoSignalIn, FifoSignalOut } from '../lib/fifo.js';
import { describeExit, start, within } from '../lib/processes.js';
import { rotate } from '../lib/rounds.js';
import { msBetween, sleep, summarize } from '../lib/stats.js';

const HOLDER = ['sh', '-c', 'echo > "$1"; read _ < "$2"', 'sh'];
const WAITER = ['sh', '-c', 'echo > "$1"', 'sh'];
const STEP_TIMEOUT_MS = 15_000;

// sameRounds: more tools paired in the same rounds, each with its own server's admin client.
export async function measureHandoff({ tools: cellTools, sameRounds = {}, env, admin, dir, config, progress }) {
  const { pairs, warmups } = config;
  const tools = { ...cellTools, ...sameRounds };
  const names = Object.keys(tools);
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  const problems = [];
  for (let round = 0; round < warmups + pairs; round++) {
    for (const name of rotate(names, round)) {
      // A fresh key and fresh FIFOs per pair: nothing left over from the previous pair can count.
      const pairDir = mkdtempSync(join(dir, `handoff-${name}-`));
      const result = await handoffPair({ tool: tools[name], key: `bench:handoff:${round}`, pairDir, env, admin: tools[name].admin ?? admin });
      problems.push(...result.problems.map((problem) => `handoff ${name}: ${problem}`));
      if (round >= warmups && result.ms !== undefined) samples[name].push(result.ms);
    }
    progress(`handoff: round ${round + 1}/${warmups + pairs}${round < warmups ? ' (warm-up)' : ''}`);
  }
  const summary = Object.fromEntries(names.map((name) => [name, summarize(samples[name])]));
  return { samples, summary, problems };
}

async function handoffPair({ tool, key, pairDir, env, admin }) {
  const holdReady = new FifoSignalIn(join(pairDir, 'hold-ready'));
  const go = new FifoSignalOut(join(pairDir, 'go'));
  const waiterStarted = new FifoSignalIn(join(pairDir, 'waiter-started'));
  const processes = [];
  const launch = (command) => {
    const [file, args] = tool.argv(key, command, { wait: true });
    const proc = start(file, args, { env, captureStderr: true });
    processes.push(proc);
    return proc;
  };
  try {
    const holder = launch([...HOLDER, holdReady.path, go.path]);
    await step(holdReady.written, holder, 'the holder to start its command');
    const waiter = launch([...WAITER, waiterStarted.path]);
    await step(waitUntilQueued(tool, waiter, admin), waiter, 'the waiter to queue on the lock');
    if (waiterStarted.arrivedAt !== undefined) return { problems: ["the waiter's command started while the holder held the lock"] };

    const t0 = process.hrtime.bigint();
    go.release();
    const t1 = await step(waiterStarted.written, waiter, "the waiter's command to start");

    const exits = await within(STEP_TIMEOUT_MS, Promise.all(processes.map((p) => p.exited)), 'both processes to exit');
    const problems = exits.filter((exit) => exit.code !== 0).map(describeExit);
    return { ms: msBetween(t0, t1), problems };
  } catch (error) {
    return { problems: [error.message] };
  } finally {
    for (const proc of processes) proc.child.kill('SIGKILL'); // no-op for those that exited
    for (const fifo of [holdReady, go, waiterStarted]) fifo.close();
  }
}

/** Await `promise`, failing fast if `proc` exits first or it takes too long. */
async function step(promise, proc, what) {
  const exitedEarly = proc.exited.then((exit) => {
    throw new Error(`exited (${describeExit(exit)}) while waiting for ${what}`);
  });
  exitedEarly.catch(() => {}); // only observed through the race below
  return within(STEP_TIMEOUT_MS, Promise.race([promise, exitedEarly]), `waiting for ${what}`);
}

// The waiter counts as queued once it is blocked in the lock call itself: for the PostgreSQL
// tools a not-granted advisory lock in pg_locks (this pair's key is the only one in use), for
// flock a blocked request ("->") with the waiter's pid in /proc/locks. Without a readable
// /proc/locks, flock gets 200 ms to queue.
async function waitUntilQueued(tool, waiter, admin) {
  const queued = tool.name === 'flock' ? () => flockBlocked(waiter.pid) : () => advisoryWaiterExists(admin);
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  // The loop ends on its own (not only through step()'s race), so a failed pair leaves no poller.
  while (waiter.child.exitCode === null && waiter.child.signalCode === null && Date.now() < deadline) {
    const answer = await queued();
    if (answer === undefined) return sleep(200);
    if (answer) return;
    await sleep(2);
  }
  throw new Error('the waiter never queued on the lock');
}

async function advisoryWaiterExists(admin) {
  const [{ n }] = await admin`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`;
  return n > 0;
}

/** Whether /proc/locks shows `pid` blocked on a flock; undefined when it cannot be read. */
function flockBlocked(pid) {
  let locks;
  try {
    locks = readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  return new RegExp(`^\\d+: -> FLOCK\\s+\\S+\\s+\\S+\\s+${pid}\\s`, 'm').test(locks);
}
