// 4. Peak memory of the tool's own process while its command runs (`sleep 1`), read from
// /proc/<pid>/status at ~700 ms. The spawned pid is the tool itself: pglock and withlock start via
// `#!/usr/bin/env node`, and env execs node in place. VmHWM is the peak resident set so far.
import { readFileSync } from 'node:fs';
import { describeExit, start } from '../lib/processes.js';
import { rotate } from '../lib/rounds.js';
import { sleep } from '../lib/stats.js';

// The floor under pglock's number: the same Node with only the built-in modules a run of pglock
// loads (a PostgreSQL client with SCRAM, a child process; tls on the TLS server), none of its code.
const RUN_BUILTINS = ['net', 'child_process', 'crypto', 'stream', 'os', 'vm', 'tty', 'util'];

export async function measureRss({ tools, env, node = process.execPath, config, progress, tls = false }) {
  const { runs, sampleAtMs } = config;
  const builtins = [...RUN_BUILTINS, ...(tls ? ['tls'] : [])];
  const commands = {
    node: [node, ['-e', 'setTimeout(()=>{},1500)']],
    builtins: [node, ['-e', `for (const m of ${JSON.stringify(builtins)}) require(m); setTimeout(()=>{},1500)`]],
  };
  for (const tool of Object.values(tools)) commands[tool.name] = tool.argv('bench:rss', ['sleep', '1']);
  const names = Object.keys(commands);

  const samples = Object.fromEntries(names.map((name) => [name, []]));
  const problems = [];
  for (let round = 0; round < runs; round++) {
    for (const name of rotate(names, round)) {
      const [file, args] = commands[name];
      const run = start(file, args, { env, captureStderr: true });
      await sleep(sampleAtMs);
      const status = readStatus(run.pid);
      // The reading only means "while the command runs" if the tool has started it by now.
      if (name !== 'node' && name !== 'builtins' && hasChildren(run.pid) === false) problems.push(`rss ${name}: its command was not running at ${sampleAtMs} ms`);
      const exit = await run.exited;
      if (exit.code !== 0) problems.push(`rss ${name}: ${describeExit(exit)}`);
      if (status) samples[name].push(status);
      else problems.push(`rss ${name}: /proc/${run.pid}/status was not readable at ${sampleAtMs} ms`);
    }
    progress(`rss: round ${round + 1}/${runs}`);
  }
  const summary = Object.fromEntries(names.map((name) => [name, samples[name].length === 0 ? undefined : {
    hwmMiB: Math.max(...samples[name].map((s) => s.hwmKiB)) / 1024,
    rssMiB: Math.max(...samples[name].map((s) => s.rssKiB)) / 1024,
  }]));
  return { samples, summary, problems };
}

function readStatus(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { hwmKiB: kib('VmHWM'), rssKiB: kib('VmRSS') };
  } catch {
    return undefined;
  }
}

/** Whether `pid` has child processes; undefined when the kernel does not expose the list. */
function hasChildren(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim() !== '';
  } catch {
    return undefined;
  }
}
