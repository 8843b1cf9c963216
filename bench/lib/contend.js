// N processes of one lock tool started at once on one key, each running a logged 10 ms critical
// section. Shared by the contention (50) and scale (300) measurements.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeExit, start, within } from './processes.js';
import { analyzeSections, sectionCommand } from './sections.js';
import { msBetween } from './stats.js';

/**
 * Returns { wallMs, afterSpawnMs, exitCodes, sectionCount, overlaps, gapsMs, problems }: wallMs
 * from the first spawn to the last exit, afterSpawnMs from the first spawn until `afterSpawn`
 * (awaited once all processes are started; the scale test opens its gate there) was done.
 * Problems are correctness failures (bad exit, missing or overlapping sections); the caller
 * decides what to do with them.
 */
export async function runContended({ tool, count, key, dir, env, label, afterSpawn, timeoutMs = 120_000 }) {
  const logFile = join(dir, `${label}.log`);
  writeFileSync(logFile, '');
  const [file, args] = tool.argv(key, sectionCommand(logFile), { wait: true });

  // Spawn in a tight synchronous loop: no awaits between spawns, so they start as close together
  // as Node can manage.
  const processes = [];
  for (let i = 0; i < count; i++) processes.push(start(file, args, { env, captureStderr: true }));
  await afterSpawn?.();
  const afterSpawnDone = process.hrtime.bigint();
  const exits = await within(timeoutMs, Promise.all(processes.map((p) => p.exited)), `${count} × ${tool.name}`);

  const firstSpawn = processes[0].started;
  const lastExit = exits.reduce((latest, exit) => (exit.at > latest ? exit.at : latest), firstSpawn);
  const analysis = analyzeSections(readFileSync(logFile, 'utf8'));
  const problems = [...analysis.problems];
  const bad = exits.filter((exit) => exit.code !== 0);
  if (bad.length > 0) problems.push(`${bad.length} of ${count} ${tool.name} processes failed, e.g. ${describeExit(bad[0])}`);
  if (analysis.sections.length !== count) problems.push(`${analysis.sections.length} sections recorded, expected ${count}`);
  return {
    wallMs: msBetween(firstSpawn, lastExit),
    afterSpawnMs: msBetween(firstSpawn, afterSpawnDone),
    exitCodes: exits.map((exit) => exit.code),
    sectionCount: analysis.sections.length,
    overlaps: analysis.overlaps,
    gapsMs: analysis.gapsMs,
    problems,
  };
}
