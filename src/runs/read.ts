import { formatDuration } from '../duration.js';
import type { SqlClient } from '../sql/client.js';
import { intLiteral } from '../sql/literals.js';
import type { RunOutcome, RunRecord } from './run-record.js';
import { RUNS_TABLE, sqlState } from './table.js';

export type { RunOutcome, RunRecord };

/** The columns of a run record, with the age computed by the server (`r` is the table's alias). */
export const RUN_COLUMNS = `r.lock_id::pg_catalog.text as lock_id, r.key, r.fencing_token::pg_catalog.text as fencing_token,
  r.started_at, r.ended_at, r.host, r.pid, r.outcome, r.exit_code, r.signal,
  pg_catalog.date_part('epoch', pg_catalog.now() operator(pg_catalog.-) r.started_at) as age_s`;

export interface RawRun {
  lock_id: string | null;
  key: string | null;
  fencing_token: string | null;
  started_at: Date | null;
  ended_at: Date | null;
  host: string | null;
  pid: number | null;
  outcome: string | null;
  exit_code: number | null;
  signal: string | null;
  age_s: number | null;
}

/** A row of RUN_COLUMNS as a RunRecord; undefined for the all-null row of an outer join. */
export function toRunRecord(raw: RawRun): RunRecord | undefined {
  if (raw.lock_id === null || raw.started_at === null || raw.fencing_token === null) return undefined;
  return {
    lockId: BigInt(raw.lock_id),
    key: raw.key,
    fencingToken: BigInt(raw.fencing_token),
    startedAt: raw.started_at,
    endedAt: raw.ended_at,
    ageMs: Math.max(0, Math.round(Number(raw.age_s ?? 0) * 1000)),
    host: raw.host,
    pid: raw.pid === null ? null : Number(raw.pid),
    outcome: (raw.outcome ?? 'running') as RunOutcome,
    exitCode: raw.exit_code === null ? null : Number(raw.exit_code),
    signal: raw.signal,
  };
}

export interface ListRunsFilter {
  /** Only these lock ids. */
  ids?: bigint[];
  /** Leave out runs whose command never started (they do not count as runs for a check). */
  skipNotStarted?: boolean;
  /** Every kept run (the history), not only the last of each lock id. */
  history?: boolean;
  /** At most this many runs (the newest). */
  limit?: number;
}

/**
 * The recorded runs, newest first: the last run of each lock id, or with `history` every kept run;
 * with `ids`, only those lock ids. No table yet: no runs (reading never creates it). A role that
 * may not read it gets the error (SQLSTATE 42501).
 */
export async function listRuns(sql: SqlClient, filter: ListRunsFilter = {}): Promise<RunRecord[]> {
  if (filter.ids !== undefined && filter.ids.length === 0) return [];
  const conditions = [
    ...(filter.ids === undefined ? [] : [`r.lock_id operator(pg_catalog.=) any (array[${filter.ids.map((id) => `${intLiteral(id)}::pg_catalog.int8`).join(', ')}])`]),
    ...(filter.skipNotStarted ? ["r.outcome operator(pg_catalog.<>) 'not-started'"] : []),
  ];
  const where = conditions.length === 0 ? '' : ` where ${conditions.join(' and ')}`;
  const limit = filter.limit === undefined ? '' : ` limit ${intLiteral(filter.limit)}`;
  // The last run of a lock id is its row with the highest fencing token.
  const statement = filter.history
    ? `select ${RUN_COLUMNS} from ${RUNS_TABLE} r${where} order by r.started_at desc, r.fencing_token desc${limit}`
    : `select r.* from (select distinct on (r.lock_id) ${RUN_COLUMNS}, r.fencing_token as token from ${RUNS_TABLE} r${where}
         order by r.lock_id, r.fencing_token desc) r order by r.started_at desc, r.token desc${limit}`;
  try {
    const rows = await sql.unsafe<RawRun[]>(statement);
    return rows.flatMap((row) => toRunRecord(row) ?? []);
  } catch (error) {
    if (sqlState(error) === '42P01') return [];
    throw error;
  }
}

/** Whether an unfinished run's pglock still holds the lock: yes, no, or cannot tell. */
export type StillRunning = 'yes' | 'no' | 'unknown';

/**
 * One phrase for a run: "started 41s ago on web-1 (pid 2231) and exited 0 after 0.1s".
 * `stillRunning` says what an unfinished run (outcome running) is.
 */
export function describeRun(run: RunRecord, stillRunning: StillRunning = 'unknown'): string {
  const where = run.host === null ? '' : ` on ${printable(run.host)}${run.pid === null ? '' : ` (pid ${run.pid})`}`;
  return `started ${formatDuration(run.ageMs)} ago${where} and ${describeOutcome(run, stillRunning)}`;
}

/** How the run ended, as a phrase: "exited 0 after 0.1s", "is still running". */
export function describeOutcome(run: RunRecord, stillRunning: StillRunning = 'unknown'): string {
  const took = run.endedAt === null ? '' : ` after ${formatDuration(Math.max(0, run.endedAt.getTime() - run.startedAt.getTime()))}`;
  switch (run.outcome) {
    case 'exited': return `exited ${run.exitCode ?? '?'}${took}`;
    case 'signaled': return `was killed by ${run.signal ?? 'a signal'}${took}`;
    case 'lock-lost': return `was stopped${took}: pglock lost the lock`;
    case 'timed-out': return `timed out: stopped${took} by --max-runtime`;
    case 'not-started': return 'did not start the command';
    case 'completed': return `completed${took}`;
    case 'failed': return `failed${took}`;
    case 'released': return `ended${took}`;
    case 'running':
      if (stillRunning === 'yes') return 'is still running';
      if (stillRunning === 'no') return 'never recorded its end (its pglock was killed, or lost its connection)';
      return 'has no recorded end (still running, or its pglock was killed)';
  }
}

function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, '?');
}
