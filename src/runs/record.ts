import type { ReservedSql } from '../connection/index.js';
import { intLiteral, textLiteral } from '../sql/literals.js';
import { type RawRun, type RunRecord, RUN_COLUMNS, toRunRecord } from './read.js';
import { CREATE_FENCE_FUNCTIONS, FENCE_ID_FUNCTION } from './fence.js';
import { CREATE_LOCK_ID, RUNS_TABLE, sqlState, withRunsTable } from './table.js';
import { migrateRunsTable } from './migrate.js';

// Writing the run record, always while holding the lock, so the writes for one key are ordered
// like its holders:
//  - the start (one statement): a new row with a new fencing token and the run's start, host and
//    pid, and the pruning of the key's runs beyond its history; with a
//    minimum interval only if the last run started at least that long ago by the database's clock,
//    so racing hosts whose clocks disagree cannot both pass;
//  - the end (exit code, signal, "lock lost"), written only if the row is still this run's (its
//    fencing token), in the same round trip as the unlock where it can be.
//
// Fencing tokens are timeline × 2³² + a counter. Every promotion of a standby starts a new, higher
// timeline, so the first token on the new primary is above every token the old one handed out, even
// those whose commits never reached the standby (asynchronous replication). The increment is an
// ordinary committed write, so a token is never handed out twice, even after a server crash.

export interface RunStart {
  /** The lock id the record is kept under: the key's own id (with --limit, not the slot's). */
  id: bigint;
  key: string | undefined;
  host: string;
  pid: number;
  /** Start only if the last run (that started its command) began at least this long ago. */
  minIntervalMs?: number;
  /** Keep this many runs of the key (this one included; 0 or 1: only this one). Default 100. */
  history?: number;
}

/** How many runs of a key the record keeps unless told otherwise. */
export const DEFAULT_HISTORY = 100;

export type RunStarted =
  | { started: true; fencingToken: bigint; previous: RunRecord | undefined }
  | { started: false; previous: RunRecord };

/** How a run ended, as pglock records it. */
export type RunEnd =
  | { outcome: 'exited'; exitCode: number }
  | { outcome: 'signaled'; signal: string }
  | { outcome: 'lock-lost' | 'not-started' | 'completed' | 'failed' | 'released' | 'timed-out' };

// The timeline is the first 8 hex digits of the current WAL file's name.
const TIMELINE_BASE = `(('x' operator(pg_catalog.||) pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::pg_catalog.bit(32)::pg_catalog.int8 operator(pg_catalog.*) 4294967296)`;

/** Record the start of a run (creating or migrating the table on first use), unless a run is too recent. */
export async function startRun(sql: ReservedSql, run: RunStart, what: string): Promise<RunStarted> {
  return withRunsTable(sql, what, async () => {
    // A unique violation: another --limit slot's holder took the same next token in the same
    // instant (its insert committed first), or the table still has the primary key of before the
    // history (one row per lock id), which is then migrated. Either way a new statement, with a new
    // snapshot, sees why: try again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await tryStart(sql, run);
      } catch (error) {
        if (sqlState(error) !== '23505' || attempt >= 5) throw error;
        await migrateRunsTable(sql);
      }
    }
  });
}

async function tryStart(sql: ReservedSql, run: RunStart): Promise<RunStarted> {
  const [row] = await sql.unsafe<(RawRun & { token: string | null; fence_ready: boolean })[]>(startStatement(run));
  if (row?.fence_ready === false) await installFence(sql);
  const previous = row === undefined ? undefined : toRunRecord(row);
  if (row?.token != null) return { started: true, fencingToken: BigInt(row.token), previous };
  if (previous === undefined) throw new Error(`the run record of lock id ${run.id} was neither written nor found`);
  return { started: false, previous };
}

// One statement, one round trip: the previous run (with a minimum interval, the last that started
// its command), the new run's row with the next fencing token unless that run is too recent (the
// latest run's row locked first: a stale holder's fenced transaction holds it back, fence.ts), and
// the pruning of the runs beyond the history (the delete sees the table as it was, so it keeps
// history − 1 of the older rows besides the new one).
function startStatement(run: RunStart): string {
  const id = intLiteral(run.id);
  const keep = Math.max(1, run.history ?? DEFAULT_HISTORY);
  const ofId = `r.lock_id operator(pg_catalog.=) ${id}`;
  const started = run.minIntervalMs === undefined ? '' : " and r.outcome operator(pg_catalog.<>) 'not-started'";
  const recent = run.minIntervalMs === undefined ? '' : `
      where not exists (select from previous p
        where p.started_at operator(pg_catalog.>) (pg_catalog.now() operator(pg_catalog.-) '${intLiteral(run.minIntervalMs)} milliseconds'::pg_catalog.interval))`;
  return `
    with previous as (
      select ${RUN_COLUMNS} from ${RUNS_TABLE} r where ${ofId}${started} order by r.fencing_token desc limit 1
    ), latest as (
      select r.fencing_token from ${RUNS_TABLE} r where ${ofId} order by r.fencing_token desc limit 1 for update
    ), started as (
      insert into ${RUNS_TABLE} as r (lock_id, key, fencing_token, started_at, ended_at, host, pid, outcome, exit_code, signal)
      select ${id}, ${run.key === undefined ? 'null' : textLiteral(run.key)},
             greatest(coalesce((select l.fencing_token from latest l), 0) operator(pg_catalog.+) 1, ${TIMELINE_BASE} operator(pg_catalog.+) 1),
             pg_catalog.now(), null, ${textLiteral(run.host)}, ${intLiteral(run.pid)}, 'running', null, null${recent}
      returning r.fencing_token
    ), pruned as (
      delete from ${RUNS_TABLE} r where ${ofId} and exists (select from started)
        and r.fencing_token operator(pg_catalog.<=) (select k.fencing_token from ${RUNS_TABLE} k
          where k.lock_id operator(pg_catalog.=) ${id} order by k.fencing_token desc offset ${intLiteral(keep - 1)} limit 1)
    )
    select (select s.fencing_token::pg_catalog.text from started s) as token,
      pg_catalog.to_regprocedure('${FENCE_ID_FUNCTION}(bigint,bigint)') is not null as fence_ready, p.*
    from (values (1)) as one (x) left join previous p on true`;
}

// The fence functions, with the table on first use (or for a table of before them): best effort,
// since a role that may create the table may still be refused functions; the job's call then says
// the function does not exist.
async function installFence(sql: ReservedSql): Promise<void> {
  await sql.unsafe(`select pg_catalog.pg_advisory_xact_lock(${intLiteral(CREATE_LOCK_ID)}::pg_catalog.int8); ${CREATE_FENCE_FUNCTIONS}`).catch(() => undefined);
}

/**
 * The statement that records a run's end: only while the row is still this run's (a later holder's
 * run has a higher token). Text, so that it can share a round trip with the unlock.
 */
export function endRunStatement(id: bigint, fencingToken: bigint, end: RunEnd): string {
  const exitCode = end.outcome === 'exited' ? intLiteral(end.exitCode) : 'null';
  const signal = end.outcome === 'signaled' ? textLiteral(end.signal) : 'null';
  return `update ${RUNS_TABLE} set ended_at = pg_catalog.now(), outcome = ${textLiteral(end.outcome)}, exit_code = ${exitCode}, signal = ${signal}
    where lock_id operator(pg_catalog.=) ${intLiteral(id)} and fencing_token operator(pg_catalog.=) ${intLiteral(fencingToken)}`;
}
