// The exit-code contract. README's "Exit codes" table mirrors this file and pglock(1)'s EXIT STATUS
// is made from it (test/unit/man.test.ts checks both); tests pin each value.
// Values follow sysexits(3) and util-linux flock where a convention exists.

export const ExitCode = {
  /** Lock busy (fail fast) or the wait timed out; the child never ran. Overridable with -E. */
  Conflict: 75,
  /** Bad command line: missing key or command, bad duration or number, unknown option. */
  Usage: 64,
  /** Database unavailable: cannot connect in time, authentication failed, unknown database, pooler. */
  Unavailable: 69,
  /** The lock was lost while the child ran; pglock stopped the child. */
  LockLost: 70,
  /** An unexpected internal error in pglock itself (a bug: please report it). */
  Internal: 71,
  /** --max-runtime: the command ran too long and pglock stopped it (timeout(1)'s code). */
  TimedOut: 124,
  /** `pglock check`: the last run started longer ago than --max-age. */
  CheckStale: 1,
  /** `pglock check`: the last run failed (a non-zero exit, a signal, lost lock, timed out, no end). */
  CheckFailed: 2,
  /** `pglock check`: the last run is still running, and started longer ago than --max-age. */
  CheckOverrunning: 3,
  /** `pglock check`: no run of the key was ever recorded. */
  CheckNeverRan: 4,
  /** `pglock release`: the holder is not a pglock, and --force was not given. */
  ReleaseRefused: 65,
  /**
   * No privilege: the role may not call the advisory-lock functions (the message gives the GRANT),
   * or `pglock release` may not terminate the holder (needs the same role or pg_signal_backend).
   */
  NoPermission: 77,
  /** The command was found but could not be executed. */
  CannotExecute: 126,
  /** The command was not found. */
  NotFound: 127,
} as const;

export type ExitCodeName = keyof typeof ExitCode;

/** Offset added to a signal number when the child (or pglock's wait) ended by that signal. */
export const SIGNAL_EXIT_BASE = 128;

/** One line per code: the man page's EXIT STATUS. README's "Exit codes" table says more (a test checks it lists every code). */
export const EXIT_CODE_MEANINGS: Record<ExitCodeName, string> = {
  Conflict: 'the lock was not acquired: busy (fail fast), the wait timed out, or the last run started less than --min-interval ago; the command never ran (-E sets another code)',
  Usage: 'usage error: a bad option, value, connection string or TLS file, found before connecting',
  Unavailable: 'database unavailable: no primary reachable within --connect-timeout (a waiter: within its wait), authentication or TLS failed, a standby, a statement-mode pooler, or the run record cannot be written',
  LockLost: 'the lock was lost while the command ran, and pglock stopped the command',
  Internal: 'internal error in pglock (a bug: please report it)',
  TimedOut: 'the command ran longer than --max-runtime, and pglock stopped it',
  CheckStale: 'pglock check: the last recorded run started longer ago than --max-age',
  CheckFailed: 'pglock check: the last recorded run failed (a non-zero exit, a signal, a lost lock, timed out)',
  CheckOverrunning: 'pglock check: the last run is still running, and started longer ago than --max-age',
  CheckNeverRan: 'pglock check: no run of the key was ever recorded',
  ReleaseRefused: 'pglock release: the holder is not a pglock, and --force was not given',
  NoPermission: 'no privilege: the role may not call the advisory-lock functions (the message gives the GRANT to run), or pglock release may not terminate the holder (the same role or pg_signal_backend is needed)',
  CannotExecute: 'the command was found but could not be executed',
  NotFound: 'the command was not found',
};
