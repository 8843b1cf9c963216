// 1. Run-once wall time of `<tool> -- true`: what a cron job or CI step pays per invocation when
// the lock is free. Timed from the spawn call to the 'exit' event, stdio ignored, no shell.
import { describeExit, start } from '../lib/processes.js';
import { rotate } from '../lib/rounds.js';
import { msBetween, summarize } from '../lib/stats.js';

// sameRounds: more tools run in the same rounds (pglock against the plain server, in a TLS cell).
export async function measureRunOnce({ tools, sameRounds = {}, env, node = process.execPath, config, progress }) {
  const { runs, warmups } = config;
  const key = 'bench:run-once';
  const commands = { node: [node, ['-e', '0']] };
  for (const tool of [...Object.values(tools), ...Object.values(sameRounds)]) commands[tool.name] = tool.argv(key, ['true']);
  const names = Object.keys(commands);

  const samples = Object.fromEntries(names.map((name) => [name, []]));
  const problems = [];
  for (let round = 0; round < warmups + runs; round++) {
    for (const name of rotate(names, round)) {
      const [file, args] = commands[name];
      const run = start(file, args, { env });
      const exit = await run.exited;
      // stderr is not kept here (stdio ignored, as the timing asks); a failure shows its code only.
      if (exit.code !== 0) problems.push(`run-once ${name}: ${describeExit(exit)}`);
      else if (round >= warmups) samples[name].push(msBetween(run.started, exit.at));
    }
    progress(`run-once: round ${round + 1}/${warmups + runs}${round < warmups ? ' (warm-up)' : ''}`);
  }
  const summary = Object.fromEntries(names.map((name) => [name, summarize(samples[name])]));
  return { samples, summary, problems };
}
