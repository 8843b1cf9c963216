// 5. Scale: hundreds of waiters queued on one key at the same time. Beyond mutual exclusion it
// shows what the server pays (each waiting process holds one PostgreSQL backend, so the count
// must stay within max_connections) and how fast a long queue drains.
//
// On a small machine the waiters cannot all start at once: spawning 300 Node processes takes
// seconds, and without a gate the first ones finish before the last ones start, so the queue
// never holds them all. A gate holder (one more process of the same tool, holding the lock with
// a FIFO-controlled command) therefore keeps the lock until every waiter is queued (or the queue
// stops growing), then lets go. Reported: wall (first spawn to last exit), queue-up (first spawn
// to gate release), drain (gate release to last exit), and the peak backend count, polled every
// 50 ms, which includes the gate holder's backend.
import { runContended } from '../lib/contend.js';
import { describeExit, within } from '../lib/processes.js';
import { openGate } from '../lib/gate.js';
import { ADMIN_APPLICATION_NAME } from '../lib/server.js';
import { sleep } from '../lib/stats.js';

const POLL_MS = 50;
/** Release the gate early when the number of queued waiters has not grown for this long. */
const STALL_MS = 5_000;

export async function measureScale({ tools, env, dir, admin, maxConnections, config, progress }) {
  const { count, tools: names } = config;
  const samples = {};
  const summary = {};
  const problems = [];
  for (const name of names.filter((n) => tools[n])) {
    const tool = tools[name];
    const key = `bench:scale:${name}`;
    const gate = await openGate({ argv: (command) => tool.argv(key, command, { wait: true }), dir, env, name: `scale-gate-${name}`, timeoutMs: 15_000 });
    const poller = pollBackends(admin);
    let run;
    let queue;
    try {
      run = await runContended({
        tool, count, key, dir, env, label: `scale-${name}`, timeoutMs: 300_000,
        afterSpawn: async () => {
          queue = await waitForQueue(admin, count);
          gate.release();
        },
      });
    } finally {
      poller.stop();
      gate.close();
    }
    const gateExit = await within(10_000, gate.exited, 'the gate holder to exit');
    if (gateExit.code !== 0) problems.push(`scale ${name}: the gate holder failed: ${describeExit(gateExit)}`);
    if (queue.waiting < count) problems.push(`scale ${name}: only ${queue.waiting} of ${count} waiters were queued when the gate opened`);
    const { counts, error } = await poller.done;
    if (error) problems.push(`scale ${name}: polling pg_stat_activity failed: ${error}`);
    // The moment the queue is full is the peak; the 50 ms polling alone can miss it.
    const backends = [...counts, queue.backends];

    samples[name] = { ...run, queuedAtRelease: queue.waiting, backendsAtRelease: queue.backends, backendSamples: counts };
    summary[name] = {
      wallMs: run.wallMs,
      queueUpMs: run.afterSpawnMs,
      drainMs: run.wallMs - run.afterSpawnMs,
      queuedAtRelease: queue.waiting,
      sections: run.sectionCount,
      overlaps: run.overlaps,
      allExitedZero: run.exitCodes.every((code) => code === 0),
      peakBackends: Math.max(0, ...backends),
      maxConnections,
    };
    problems.push(...run.problems.map((problem) => `scale ${name}: ${problem}`));
    progress(`scale: ${count} × ${name}: ${queue.waiting} queued, drained in ${summary[name].drainMs.toFixed(0)} ms, ` +
      `wall ${run.wallMs.toFixed(0)} ms, peak ${summary[name].peakBackends} backends`);
  }
  return { count, samples, summary, problems };
}

/**
 * Wait until `count` advisory-lock waiters are queued, or their number stops growing. Returns the
 * last { waiting, backends } reading.
 */
async function waitForQueue(admin, count) {
  let best = { waiting: 0, backends: 0 };
  let grewAt = Date.now();
  while (Date.now() - grewAt < STALL_MS) {
    const [now] = await admin`
      select (select count(*)::int from pg_locks where locktype = 'advisory' and not granted) as waiting,
             (${clientBackends(admin)}) as backends`;
    if (now.waiting >= count) return now;
    if (now.waiting > best.waiting) [best, grewAt] = [now, Date.now()];
    await sleep(POLL_MS);
  }
  return best;
}

/**
 * Count client backends every POLL_MS until stop(). `done` resolves with the counts and never
 * rejects: a failed query ends the polling and is reported as `error`.
 */
function pollBackends(admin) {
  let running = true;
  const counts = [];
  const done = (async () => {
    try {
      while (running) {
        const [{ n }] = await admin`${clientBackends(admin)}`;
        counts.push(n);
        await sleep(POLL_MS);
      }
      return { counts };
    } catch (error) {
      return { counts, error: error.message };
    }
  })();
  return { done, stop: () => { running = false; } };
}

/** SQL fragment: the number of client backends other than the bench's own admin connections. */
function clientBackends(admin) {
  return admin`
    select count(*)::int as n from pg_stat_activity
    where backend_type = 'client backend' and application_name is distinct from ${ADMIN_APPLICATION_NAME}`;
}
