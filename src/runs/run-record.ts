// The run record's row as the library returns it: types only, imported by errors.ts as well.

/** How a recorded run ended; `running` until its end is written. */
export type RunOutcome = 'running' | 'exited' | 'signaled' | 'lock-lost' | 'not-started' | 'completed' | 'failed' | 'released' | 'timed-out';

/** A recorded run of a lock id, as the run record holds it. Times are the database's. */
export interface RunRecord {
  lockId: bigint;
  /** The key, or null for a run by raw lock id. */
  key: string | null;
  fencingToken: bigint;
  startedAt: Date;
  endedAt: Date | null;
  /** How long ago the run started when the record was read, by the database's clock. */
  ageMs: number;
  /** The host and pid of the pglock process (or library process) that ran it. */
  host: string | null;
  pid: number | null;
  /**
   * exited (exitCode), signaled (signal), lock-lost (pglock stopped it), timed-out (it ran past
   * --max-runtime and pglock stopped it), not-started (the lock was
   * taken but the command never ran: it does not count for a minimum interval), completed / failed
   * (a withLock callback resolved / threw), released (a library lock released without an outcome),
   * running (no end recorded: still running, or its pglock was killed).
   */
  outcome: RunOutcome;
  exitCode: number | null;
  signal: string | null;
}
