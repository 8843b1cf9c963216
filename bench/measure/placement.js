// A warm section by where the processes run (issue 30). On loopback a round trip is a wake-up of the
// other side: cheap when the client and the backend share one CPU (a switch on the spot), dear when
// they are on two (the other CPU is woken, which on a virtual machine costs tens of microseconds each
// way). Left to the scheduler, each backend lands where it lands, and the ratio of two sections on two
// backends says as much about that as about their work. So each pair is timed twice more, pinned
// (taskset -a, util-linux: every thread of the bench process, and both backends of the pair; the
// first CPU the bench may run on, and the second):
//   one CPU    the bench and the backends on the first CPU: a section costs what the CPUs work, client and
//              server one after the other (the ratio of their work);
//   two CPUs   the bench on the first, the backends on the second: the round trips cross CPUs, as they
//              cross machines in a deployment (the ratio of their latency).
// With each: the server's CPU per section (the backend's se.sum_exec_runtime in /proc/<pid>/sched,
// else its ticks in /proc/<pid>/stat; each backend serves its own case only) and the client's
// (process.cpuUsage around each section). Sections in turn, A, B, A, B ...; the bench process's
// affinity is put back as it was.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const PLACEMENTS = ['one CPU', 'two CPUs'];

/** `pairs`: [{ [name]: { section(i), backendPid } }, ...]. Returns { placements: { [placement]: { [name]: ... } } } or { skipped }. */
export async function measurePlacement({ count, warmups, pairs }) {
  if (process.platform !== 'linux') return { skipped: 'pinning needs Linux' };
  if (spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status !== 0) return { skipped: 'taskset (util-linux) is not installed' };
  const allowed = allowedCpus(process.pid);
  const skipped = allowed.length === 0 ? 'cannot read which CPUs this process may run on' : whyNot(pairs, allowed[0]);
  if (skipped) return { skipped };
  const [first, second] = allowed;
  const cpus = second === undefined ? [[first, first]] : [[first, first], [first, second]];
  const before = affinityOf(process.pid);
  const placements = {};
  try {
    for (const [index, [client, server]] of cpus.entries()) {
      pin(process.pid, client);
      const result = (placements[PLACEMENTS[index]] = {});
      for (const cases of pairs) {
        for (const { backendPid } of Object.values(cases)) pin(backendPid, server);
        Object.assign(result, await timePair(cases, count, warmups));
      }
    }
  } catch (error) {
    return { skipped: `pinning failed: ${error.message}` };
  } finally {
    spawnSync('taskset', ['-a', '-p', before, String(process.pid)], { stdio: 'ignore' });
  }
  return { placements };
}

async function timePair(cases, count, warmups) {
  const entries = Object.entries(cases);
  for (let i = 0; i < warmups; i++) for (const [, { section }] of entries) await section(i);
  const walls = entries.map(() => []);
  const client = entries.map(() => 0);
  const server = entries.map(([, { backendPid }]) => serverCpuMs(backendPid));
  for (let i = 0; i < count; i++) {
    for (const [j, [, { section }]] of entries.entries()) {
      const usage = process.cpuUsage();
      const started = performance.now();
      await section(i);
      walls[j].push(performance.now() - started);
      const used = process.cpuUsage(usage);
      client[j] += (used.user + used.system) / 1000;
    }
  }
  return Object.fromEntries(entries.map(([name, { backendPid }], j) => [name, {
    n: count, p50: median(walls[j]), mean: walls[j].reduce((a, b) => a + b, 0) / count, serverCpu: (serverCpuMs(backendPid) - server[j]) / count, clientCpu: client[j] / count,
  }]));
}

function whyNot(pairs, cpu) {
  for (const cases of pairs) {
    for (const { backendPid } of Object.values(cases)) {
      if (serverCpuMs(backendPid) === undefined) return `backend ${backendPid} is not a process of this machine (the server is elsewhere)`;
      const tried = spawnSync('taskset', ['-pc', String(cpu), String(backendPid)], { encoding: 'utf8' });
      if (tried.status !== 0) return `cannot pin the server's backends (${tried.stderr.trim().split('\n')[0]})`;
    }
  }
  return undefined;
}

function affinityOf(pid) {
  return /:\s*([0-9a-f,]+)\s*$/i.exec(spawnSync('taskset', ['-p', String(pid)], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 'ffffffff';
}

// The CPUs a process may run on, from taskset's list ("0,2-3").
function allowedCpus(pid) {
  const list = /list:\s*([\d,-]+)\s*$/.exec(spawnSync('taskset', ['-pc', String(pid)], { encoding: 'utf8' }).stdout ?? '')?.[1];
  if (list === undefined) return [];
  return list.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number);
    return Array.from({ length: to - from + 1 }, (_, k) => from + k);
  });
}

function pin(pid, cpu) {
  const pinned = spawnSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { encoding: 'utf8' });
  if (pinned.status !== 0) throw new Error(`taskset -a -pc ${cpu} ${pid}: ${pinned.stderr.trim()}`);
}

/** A process's CPU time so far in ms, or undefined when it is not one of this machine's. */
function serverCpuMs(pid) {
  try {
    const runtime = /^se\.sum_exec_runtime\s*:\s*([\d.]+)/m.exec(readFileSync(`/proc/${pid}/sched`, 'utf8'))?.[1];
    if (runtime !== undefined) return Number(runtime);
  } catch {
    // No scheduler debug file: the ticks below.
  }
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

const median = (list) => [...list].sort((a, b) => a - b)[list.length >> 1];
