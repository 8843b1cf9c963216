import { describeTarget, openSession, applicationName } from '../../connection/index.js';
import { listAdvisoryLocks } from '../../sql/holders.js';
import { listRuns } from '../../runs/index.js';
import { judgeRun } from './check-verdict.js';
import { readRecords } from './read-records.js';
import type { CheckOptions } from '../args/options.js';
import { findHolding } from './run-holding.js';
import { formatLockLabel } from './format.js';
import { toRunEntry } from './status-entry.js';

// `pglock check --key K --max-age 25h`: a dead man's check for a probe (Kubernetes, cron, Nagios).
// It reads the key's last run and its holders in one session, judges it by the database's clock,
// and prints one line (or one JSON object) on stdout; the exit code says which case it is.
export async function checkLastRun(options: CheckOptions, write: (text: string) => void = (text) => void process.stdout.write(text)): Promise<number> {
  const session = await openSession(options.connection, {
    connectTimeoutMs: options.connectTimeoutMs,
    applicationName: applicationName('pglock-check'),
    heartbeatMs: 0,
    // On the primary only: a standby has the runs (replicated) but not the locks, so a run still
    // going would look like one whose pglock died.
  });
  const target = describeTarget(options.connection, session.host);
  const { runs, locks } = await readRecords(session, target, async (sql) => ({
    runs: await listRuns(sql, { ids: [options.lockId], skipNotStarted: true }),
    locks: await listAdvisoryLocks(sql),
  }));
  const [run] = runs;
  const holding = run === undefined ? false : findHolding(run, locks);
  const label = formatLockLabel(options.key, options.lockId);
  const result = judgeRun(run, holding, label, options.maxAgeMs, options.anyExit);
  if (options.json) {
    write(`${JSON.stringify({
      version: 1, key: options.key ?? null, lockId: String(options.lockId), status: result.verdict, exitCode: result.exitCode,
      maxAgeMs: options.maxAgeMs, anyExit: options.anyExit, message: result.line, run: run === undefined ? null : toRunEntry(run, locks),
    })}\n`);
  } else {
    write(`${result.line}\n`);
  }
  return result.exitCode;
}
