// The exit-code contract. README's "Exit codes" table mirrors this file; tests pin each value.
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
  /** `pglock release`: this role may not terminate the holder (needs the same role or pg_signal_backend). */
  NoPermission: 77,
  /** The command was found but could not be executed. */
  CannotExecute: 126,
  /** The command was not found. */
  NotFound: 127,
} as const;

export type ExitCodeName = keyof typeof ExitCode;

/** Offset added to a signal number when the child (or pglock's wait) ended by that signal. */
export const SIGNAL_EXIT_BASE = 128;
