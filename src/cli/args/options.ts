import type { ConnectionConfig } from '../../connection/index.js';

export type Verbosity = 'quiet' | 'normal' | 'verbose';
export type LogFormat = 'text' | 'json';

/** The command to run while holding the lock: an argv, or a shell line for `-c`. */
export interface CommandSpec {
  file: string;
  args: string[];
  /** True when the user asked for a shell (`-c`); only then does a shell run. */
  shell: boolean;
}

/** Everything `pglock [options] -- <command>` means, after parsing and validation. */
export interface RunOptions {
  key: string | undefined;
  lockId: bigint;
  connection: ConnectionConfig;
  wait: boolean;
  /** With wait: give up after this long. Undefined: wait forever. */
  timeoutMs: number | undefined;
  conflictExitCode: number;
  connectTimeoutMs: number;
  heartbeatMs: number;
  /** While the command runs, check this often that the lock's server is still the primary (0: off). */
  primaryCheckMs: number;
  killAfterMs: number;
  /** Stop the command when it has run this long (undefined: no limit); exit 124. */
  maxRuntimeMs: number | undefined;
  /** The signal that stops the command (max runtime, lost lock); SIGKILL follows after killAfterMs. */
  killSignal: NodeJS.Signals;
  command: CommandSpec;
  verbosity: Verbosity;
  logFormat: LogFormat;
  /** Take the shared form of the lock: shared holders run together, an exclusive one excludes all. */
  shared: boolean;
  /** Counting semaphore: at most this many holders at once (slot ids derived from the lock id). */
  limit: number | undefined;
  /** Give the child PGLOCK_FENCING_TOKEN, a number that grows every time the lock changes hands. */
  fencingToken: boolean;
  /** Run only if no run of the key started less than this long ago (the database's clock). */
  minIntervalMs: number | undefined;
  /** Keep the run record (also implied by fencingToken and minIntervalMs). */
  record: boolean;
  /** Hold the lock in an open transaction: true (--transaction-lock), or 'auto' when a transaction pooler is detected. */
  transaction: boolean | 'auto';
  /** With the run record: keep this many runs of the key (undefined: the default, 100). */
  history: number | undefined;
}

/** `pglock status [--key <name>] [--json]`: the advisory locks in the database, holders and waiters. */
export interface StatusOptions {
  connection: ConnectionConfig;
  key: string | undefined;
  json: boolean;
  /** text (default), json (also --json), or prometheus: the text exposition format. */
  format: 'text' | 'json' | 'prometheus';
  /** Write the report to this file atomically (temporary file, then rename) instead of stdout. */
  output: string | undefined;
  connectTimeoutMs: number;
  logFormat: LogFormat;
}

/** `pglock key <name>`: the lock id of a key, and the SQL that takes the same lock. */
export interface KeyOptions {
  key: string;
  limit: number | undefined;
  json: boolean;
}

/** `pglock completion <shell>`: which shell's completion script to print. */
export interface CompletionOptions {
  shell: 'bash' | 'zsh' | 'fish';
}

/** `pglock check --key K --max-age <duration>`: a dead man's check of the key's last run. */
export interface CheckOptions {
  connection: ConnectionConfig;
  key: string | undefined;
  lockId: bigint;
  maxAgeMs: number;
  /** Pass whatever the last run's exit: only its age counts. */
  anyExit: boolean;
  json: boolean;
  connectTimeoutMs: number;
  logFormat: LogFormat;
}

/** `pglock history --key K [--limit n]`: the key's kept runs, newest first. */
export interface HistoryOptions {
  connection: ConnectionConfig;
  key: string | undefined;
  lockId: bigint;
  limit: number;
  json: boolean;
  connectTimeoutMs: number;
  logFormat: LogFormat;
}

/** `pglock release --key K [--force]`: terminate the sessions holding the key's lock. */
export interface ReleaseOptions {
  connection: ConnectionConfig;
  key: string | undefined;
  lockId: bigint;
  /** Also terminate a holder that is not a pglock. */
  force: boolean;
  json: boolean;
  connectTimeoutMs: number;
  logFormat: LogFormat;
}
