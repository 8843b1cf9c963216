// 3. Contention: N processes of one tool started at once on one key, each running a logged 10 ms
// critical section. The wall time is what a burst of N queued jobs costs end to end; the log
// proves mutual exclusion (no overlapping sections, every process ran exactly once).
import { runContended } from '../lib/contend.js';
import { rotate } from '../lib/rounds.js';
import { median, summarize } from '../lib/stats.js';

export async function measureContention({ tools, env, dir, config, progress }) {
  const { count, reps } = config;
  const names = Object.keys(tools);
  const runs = Object.fromEntries(names.map((name) => [name, []]));
  const problems = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const name of rotate(names, rep)) {
      const run = await runContended({ tool: tools[name], count, key: `bench:contention:${rep}`, dir, env, label: `contention-${name}-${rep}` });
      runs[name].push(run);
      problems.push(...run.problems.map((problem) => `contention ${name}: ${problem}`));
      progress(`contention: ${count} × ${name} in ${run.wallMs.toFixed(0)} ms (${rep + 1}/${reps})`);
    }
  }
  const summary = Object.fromEntries(names.map((name) => [name, {
    wallMs: summarize(runs[name].map((run) => run.wallMs)),
    sections: Math.min(...runs[name].map((run) => run.sectionCount)),
    overlaps: Math.max(...runs[name].map((run) => run.overlaps)),
    allExitedZero: runs[name].every((run) => run.exitCodes.every((code) => code === 0)),
    gapMs: median(runs[name].flatMap((run) => run.gapsMs)),
  }]));
  return { count, samples: runs, summary, problems };
}
