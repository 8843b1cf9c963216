import { LockBusyError, LockTimeoutError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { type RunRecord, describeRun, listRuns } from '../runs/index.js';
import type { SqlClient } from '../sql/client.js';
import { describeHolder, listAdvisoryLocks } from '../sql/holders.js';

/** What a "busy" message needs to know about the request that was refused. */
export interface BusyContext {
  label: string;
  wait: boolean;
  timeoutMs: number | undefined;
  /** With a limit above 1: every slot was taken. */
  limit?: number;
}

/** Who holds these ids, one phrase each, other than `ownPid`: best effort (undefined: could not look). */
export async function findHolders(sql: SqlClient, ids: bigint[], ownPid: number | undefined): Promise<string[] | undefined> {
  try {
    const rows = await listAdvisoryLocks(sql, { ids });
    const now = new Date();
    return rows.filter((row) => row.granted && row.pid !== ownPid).map((row) => describeHolder(row, now));
  } catch {
    return undefined;
  }
}

// The latest recorded run of these ids, for the "busy" message: best effort.
export async function findLastRun(sql: SqlClient, ids: bigint[]): Promise<RunRecord | undefined> {
  try {
    return (await listRuns(sql, { ids }))[0];
  } catch {
    return undefined;
  }
}

/**
 * The error for a lock that was not granted: held by `holders` (undefined: unknown; empty: the
 * holder released it between the refusal and the look, and `lastRun` may name that run). The
 * busy and timed-out messages of every way of taking a lock, written once.
 */
export function busyError(context: BusyContext, holders: string[] | undefined, lastRun?: RunRecord): LockBusyError {
  let by = holders === undefined ? 'another session' : holders.join('; ');
  if (holders?.length === 0) {
    // Refused, yet nobody holds it now: the holder released it between the two statements (a cron
    // fleet's next host, just as the run ends). The run record, when kept, still names that run.
    by = `another session, which released it just as pglock looked${lastRun ? ` (the last run ${describeRun(lastRun, 'unknown')})` : ''}`;
  }
  if (context.wait && context.timeoutMs) {
    return new LockTimeoutError(`timed out after ${formatDuration(context.timeoutMs)} waiting for the lock ${context.label}, held by ${by}`, { holders: holders ?? [] });
  }
  const what = (context.limit ?? 1) > 1 ? `all ${context.limit} slots of the lock ${context.label} are taken, by` : `the lock ${context.label} is held by`;
  return new LockBusyError(`${what} ${by}`, { holders: holders ?? [] });
}
