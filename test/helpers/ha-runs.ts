// pglock runs for the HA stage: each one's command is test/fixtures/record.mjs, which appends its
// start and end (also when pglock stops it with SIGTERM) to a log shared by the runs on one key, so
// that test/helpers/overlap.ts can tell whether two ever ran at once.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { maxConcurrency, overlappedMs, readSections } from './overlap.js';
import { FIXTURES, type RunResult, type Running, startPglock } from './run-pglock.js';
import { sleep } from './ha-stack.js';

const RECORD = join(FIXTURES, 'record.mjs');

export interface HaRun {
  name: string;
  running: Running;
  result: RunResult | undefined;
  done: Promise<RunResult>;
}

/**
 * One pglock in the background on `key`, its command recording `name` in `log` for `secs` seconds;
 * once it ends, its stderr goes to <the log's directory>/../runs/<name>.err (HA_KEEP=1 keeps them).
 */
export function startRun(name: string, url: string, key: string, log: string, secs: number, options: string[]): HaRun {
  const running = startPglock(['-d', url, '--key', key, ...options, '--', process.execPath, RECORD, log, name, String(secs * 1000)]);
  const run: HaRun = { name, running, result: undefined, done: running.result };
  void running.result.then((result) => {
    try {
      writeFileSync(join(dirname(log), '..', 'runs', `${name}.err`), result.stderr);
    } catch { /* no runs directory: nothing to keep */ }
    run.result = result;
  });
  return run;
}

/** The run's exit code (128 + n when a signal ended it, as a shell says), or '-' while it runs. */
export function rcOf(run: HaRun): string {
  if (!run.result) return '-';
  if (run.result.code !== null) return String(run.result.code);
  return run.result.signal ? `signal ${run.result.signal}` : '?';
}

/** The last line of a run's stderr, or "(nothing on stderr)". */
export function lastErr(run: HaRun): string {
  const lines = run.running.stderrSoFar().split('\n').filter((l) => l.trim() !== '');
  return lines.at(-1) ?? '(nothing on stderr)';
}

/** Until every run has ended; false if some had not after `secs` seconds. */
export async function waitRuns(secs: number, runs: HaRun[]): Promise<boolean> {
  const deadline = Date.now() + secs * 1000;
  while (runs.some((r) => !r.result)) {
    if (Date.now() > deadline) return false;
    await sleep(200);
  }
  return true;
}

/** Until the run's command has logged its start; false after `secs` seconds. */
export async function waitStarted(log: string, name: string, secs: number): Promise<boolean> {
  for (let i = 0; i < secs * 5; i++) {
    if (readSections(log).some((s) => s.label === name)) return true;
    await sleep(200);
  }
  return false;
}

export interface LogStats {
  /** ms during which two or more commands ran. */
  overlapMs: number;
  most: number;
  starts: number;
  ends: number;
}

export function logStats(log: string): LogStats {
  const sections = readSections(log);
  return {
    overlapMs: Math.round(overlappedMs(sections)),
    most: maxConcurrency(sections),
    starts: sections.length,
    ends: sections.filter((s) => Number.isFinite(s.end)).length,
  };
}
