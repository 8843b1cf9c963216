import type { AdvisoryLockRow } from '../../sql/holders.js';
import type { RunRecord } from '../../runs/index.js';
import { findHolding } from './run-holding.js';

// What `pglock status --json` prints (and `history --json` and `check --json` reuse for runs):
// the shapes, documented field by field, and how a lock row and a run record become them.

/**
 * `pglock status --json` prints one line: { "version": 2, "locks": StatusEntry[], "runs": RunEntry[] | null }
 * (version 1, before the run record, was the bare array of locks). `runs` is null when the role
 * may not read the run record.
 *
 * One element of `locks`:
 *
 *   key             string | null   the pglock key of the lock (from the session's application_name,
 *                                   or with --key the key asked for); null when unknown
 *   slot            number | null   with key: 0 the key's own lock, n a --limit slot, -1 the --limit gate
 *   lockId          string          signed 64-bit id, or "key1:key2" for pg_advisory_lock(int, int)
 *   granted         boolean         true: holding the lock; false: waiting for it
 *   mode            "exclusive" | "shared"
 *   pid             number          the PostgreSQL backend pid (0: a prepared transaction)
 *   applicationName string | null
 *   host            string | null   the pglock process's host, when the session is a pglock
 *   pglockPid       number | null   the pglock process's pid, when the session is a pglock
 *   clientAddr      string | null   null also for a Unix-socket connection
 *   user            string | null
 *   since           string | null   ISO time: holding since (null when unknown), or waiting since
 *   backendStart    string | null   ISO time the session connected
 *   detailsHidden   boolean         PostgreSQL hid the session's details from this role
 */
export interface StatusEntry {
  key: string | null;
  slot: number | null;
  lockId: string;
  granted: boolean;
  mode: 'exclusive' | 'shared';
  pid: number;
  applicationName: string | null;
  host: string | null;
  pglockPid: number | null;
  clientAddr: string | null;
  user: string | null;
  since: string | null;
  backendStart: string | null;
  detailsHidden: boolean;
}

/**
 * One element of `runs`: the last recorded run of a lock id (see runs/read.ts), newest first.
 *
 *   key          string | null   the key (null for a run by --lock-id)
 *   lockId       string          the key's id (with --limit, the runs of all its slots are here)
 *   fencingToken string
 *   startedAt    string          ISO time, by the database's clock
 *   endedAt      string | null   null while running, or when the end was never recorded
 *   durationMs   number | null
 *   ageMs        number          how long ago it started, by the database's clock
 *   host         string | null   the pglock process's host and pid
 *   pglockPid    number | null
 *   outcome      "running" | "exited" | "signaled" | "lock-lost" | "timed-out" | "not-started" | "completed" | "failed" | "released"
 *   exitCode     number | null
 *   signal       string | null
 *   holding      boolean | null  whether that pglock holds the key's lock now (null: cannot tell,
 *                                the holders' details are hidden from this role)
 */
export interface RunEntry {
  key: string | null;
  lockId: string;
  fencingToken: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  ageMs: number;
  host: string | null;
  pglockPid: number | null;
  outcome: RunRecord['outcome'];
  exitCode: number | null;
  signal: string | null;
  holding: boolean | null;
}

/** A run record, as `runs` shows it; `holding` from the advisory locks now. */
export function toRunEntry(run: RunRecord, locks: AdvisoryLockRow[]): RunEntry {
  return {
    key: run.key,
    lockId: String(run.lockId),
    fencingToken: String(run.fencingToken),
    startedAt: run.startedAt.toISOString(),
    endedAt: run.endedAt?.toISOString() ?? null,
    durationMs: run.endedAt === null ? null : Math.max(0, run.endedAt.getTime() - run.startedAt.getTime()),
    ageMs: run.ageMs,
    host: run.host,
    pglockPid: run.pid,
    outcome: run.outcome,
    exitCode: run.exitCode,
    signal: run.signal,
    holding: findHolding(run, locks),
  };
}

/** A row of pg_locks, as `locks` shows it. */
export function toStatusEntry(row: AdvisoryLockRow): StatusEntry {
  return {
    key: row.key,
    slot: row.slot,
    lockId: row.lockId,
    granted: row.granted,
    mode: row.mode,
    pid: row.pid,
    applicationName: row.applicationName,
    host: row.pglock?.host ?? null,
    pglockPid: row.pglock?.pid ?? null,
    clientAddr: row.clientAddr,
    user: row.user,
    since: row.since,
    backendStart: row.backendStart,
    detailsHidden: row.detailsHidden,
  };
}
