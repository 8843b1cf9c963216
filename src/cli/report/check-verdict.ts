import { formatDuration } from '../../duration.js';
import { ExitCode } from '../../exit-codes.js';
import { type RunRecord, describeOutcome } from '../../runs/index.js';
import { formatAgo, printable } from './format.js';
import { toStillRunning } from './run-holding.js';

/** What `pglock check` concluded about a key's last run. */
export type Verdict = 'ok' | 'stale' | 'failed' | 'overrunning' | 'never-ran';

export interface Judged {
  verdict: Verdict;
  exitCode: number;
  /** One line, for people and for Nagios: "OK: the last run of 'k' started 5m ago … (--max-age 25h)". */
  line: string;
}

const EXIT: Record<Verdict, number> = {
  ok: 0,
  stale: ExitCode.CheckStale,
  failed: ExitCode.CheckFailed,
  overrunning: ExitCode.CheckOverrunning,
  'never-ran': ExitCode.CheckNeverRan,
};

/**
 * Judge the last run (times by the database's clock): never ran; still running, and for longer
 * than the age; started longer ago than the age; failed (unless anyExit); else ok. A run whose
 * pglock died before writing its end (`holding` false) counts as finished and failed.
 */
export function judgeRun(run: RunRecord | undefined, holding: boolean | null, label: string, maxAgeMs: number, anyExit: boolean): Judged {
  const age = `--max-age ${formatDuration(maxAgeMs)}`;
  if (run === undefined) return judged('never-ran', `NEVER RAN: no run of ${label} was ever recorded (${age}; runs are recorded with --record)`);
  const when = formatAgo(run.ageMs, run.startedAt.toISOString());
  const where = run.host === null ? '' : ` on ${printable(run.host)}${run.pid === null ? '' : ` (pid ${run.pid})`}`;
  const what = `the last run of ${label} started ${when}${where} and ${describeOutcome(run, toStillRunning(holding))}`;
  const running = run.outcome === 'running' && holding !== false;
  if (running) return run.ageMs > maxAgeMs ? judged('overrunning', `OVERRUNNING: ${what}, for longer than ${age}`) : judged('ok', `OK: ${what}; ${age}`);
  if (run.ageMs > maxAgeMs) return judged('stale', `STALE: ${what}: longer ago than ${age}`);
  if (!runSucceeded(run) && !anyExit) return judged('failed', `FAILED: ${what}; ${age}`);
  return judged('ok', `OK: ${what}; ${age}`);
}

const SUCCEEDED = new Set(['exited', 'completed', 'released']);

/** Whether a finished run succeeded (exit 0, a completed callback, a plain release); metrics use it too. */
export function runSucceeded(run: RunRecord): boolean {
  return SUCCEEDED.has(run.outcome) && (run.outcome !== 'exited' || run.exitCode === 0);
}

function judged(verdict: Verdict, line: string): Judged {
  return { verdict, exitCode: EXIT[verdict], line };
}
