import { ExitCode } from './exit-codes.js';
import type { RunRecord } from './runs/run-record.js';

export interface PglockErrorOptions {
  cause?: unknown;
  exitCode?: number;
}

// One error type for everything pglock reports: a short string code, the exit code the CLI
// uses for it, and the original error as `cause`. The message is one line, safe to print.
export class PglockError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, exitCode: number, options: PglockErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? exitCode;
  }
}

/**
 * What a callback such as elect's onError receives: a PglockError (cannot connect, the lock lost),
 * or whatever the caller's own code threw; either way `code` can be read without a cast (a string
 * when the error has one, as PglockErrors, Node's system errors and PostgreSQL's errors do).
 */
export type ReportedError = PglockError | (Error & { code?: string });

/** Bad input from the caller (CLI flags, library options). */
export class UsageError extends PglockError {
  constructor(message: string, options?: PglockErrorOptions) {
    super('EUSAGE', message, ExitCode.Usage, options);
  }
}

/** The lock is held by another session (fail fast), or the wait timed out. */
export class LockBusyError extends PglockError {
  /** Who holds it, one phrase each, as far as the role may see (may be empty). */
  readonly holders: string[];

  constructor(message: string, options?: PglockErrorOptions & { code?: string; holders?: string[] }) {
    super(options?.code ?? 'ELOCKED', message, ExitCode.Conflict, options);
    this.holders = options?.holders ?? [];
  }
}

/** The wait for the lock ran out of time (a LockBusyError, so one catch covers both). */
export class LockTimeoutError extends LockBusyError {
  constructor(message: string, options?: PglockErrorOptions & { holders?: string[] }) {
    super(message, { ...options, code: 'ELOCKTIMEOUT' });
  }
}

/**
 * A minimum interval between runs: the key's last run started too recently, so this one does not
 * run. A LockBusyError (same exit code): the job is "taken" for now, by an earlier run.
 */
export class RecentRunError extends LockBusyError {
  /** The last run of the key, as the run record holds it (times by the database's clock). */
  readonly lastRun: RunRecord;
  readonly minIntervalMs: number;

  constructor(message: string, lastRun: RunRecord, minIntervalMs: number, options?: PglockErrorOptions) {
    super(message, { ...options, code: 'ERECENTRUN' });
    this.lastRun = lastRun;
    this.minIntervalMs = minIntervalMs;
  }
}

/** The wait was cancelled by the caller (an AbortSignal, or a signal to the CLI). */
export class LockWaitAbortedError extends PglockError {
  constructor(message: string, options?: PglockErrorOptions) {
    super('EABORTED', message, ExitCode.Conflict, options);
  }
}

/** Cannot connect, authentication failed, unknown database, or a pooler that cannot hold the lock. */
export class DatabaseUnavailableError extends PglockError {
  constructor(message: string, options?: PglockErrorOptions & { code?: string }) {
    super(options?.code ?? 'EUNAVAILABLE', message, ExitCode.Unavailable, options);
  }
}

/**
 * The server is a standby (in recovery). Advisory locks are not replicated: a lock taken there
 * would exclude no one on the primary, so pglock never locks on a standby.
 */
export class StandbyError extends DatabaseUnavailableError {
  constructor(message: string, options?: PglockErrorOptions) {
    super(message, { ...options, code: 'ESTANDBY' });
  }
}

/** pglock can no longer prove it holds the lock. */
export class LockLostError extends PglockError {
  constructor(message: string, options?: PglockErrorOptions) {
    super('ELOCKLOST', message, ExitCode.LockLost, options);
  }
}

/**
 * A fenced write was refused (lock.fence()): a newer holder of the key has started, so this holder's
 * transaction must not commit. A LockLostError: this holder lost the lock some time ago.
 */
export class FencedError extends PglockError {
  constructor(message: string, options?: PglockErrorOptions) {
    super('EFENCED', message, ExitCode.LockLost, options);
  }
}

/** `pglock release`: the holder is not a pglock, and --force was not given. Nothing was terminated. */
export class ReleaseRefusedError extends PglockError {
  constructor(message: string, options?: PglockErrorOptions) {
    super('EREFUSED', message, ExitCode.ReleaseRefused, options);
  }
}

/**
 * The role lacks a privilege the request needs: EXECUTE on the advisory-lock functions (the message
 * gives the GRANT), or terminating another role's session (`pglock release`).
 */
export class PermissionError extends PglockError {
  constructor(message: string, options?: PglockErrorOptions) {
    super('EPERM', message, ExitCode.NoPermission, options);
  }
}
