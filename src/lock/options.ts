import type { ConnectionConfig, Env } from '../connection/index.js';
import type { LockLostError, PglockError } from '../errors.js';
import type { TakeoverDelay } from '../takeover/index.js';

/** How long a lock's connection keeps trying to connect, by default. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** How often a held lock is proven, by default. */
export const DEFAULT_HEARTBEAT_MS = 5000;

/** Where and how a lock's connection is made: shared by acquireLock, openLockSession and elect. */
export interface LockConnectionOptions {
  /** Connection URL; else PGLOCK_DATABASE_URL, DATABASE_URL, then the libpq PG* variables. */
  url?: string;
  /** An already resolved connection (overrides `url` and the environment). */
  connection?: ConnectionConfig;
  /** Environment to read connection settings from (default: process.env). */
  env?: Env;
  /**
   * Keep retrying the connection for this long (default 10 000 ms); a waiter keeps trying until its
   * wait ends (forever without `timeoutMs`), and this bounds each of its attempts.
   */
  connectTimeoutMs?: number;
  /** How often to check that the lock is still held (default 5 000 ms; 0 = only on disconnect). */
  heartbeatMs?: number;
  /** application_name of the lock's connection (default `pglock:<key>@<host>:<pid>`). */
  applicationName?: string;
  /**
   * The takeover delay (docs/safety.md): after a holder of the lock was cut off (its session ended
   * while it held the lock), wait before returning the lock until that holder must have stopped.
   * 'auto' (default): that holder's own bound, from the record it left; milliseconds: a fixed delay
   * after a cut-off (no shorter than this holder's own bound); 0: never wait.
   */
  lockDelay?: 'auto' | number;
  /**
   * How long the work under the lock takes to stop once `lock.signal` aborts (default 0: at once).
   * With the loss detection (two heartbeats), it is this holder's bound: how long a holder after it
   * waits if this one is cut off.
   */
  stopWithinMs?: number;
  /** Called when the start is delayed because the previous holder was cut off: why, and until when. */
  onDelay?: (delay: TakeoverDelay) => void;
  /**
   * Called when pglock cannot keep its holder record (a role that may not create or write it):
   * the takeover delay is then off for this lock. With a fixed `lockDelay`, the acquire fails instead.
   */
  onRecordUnavailable?: (reason: string) => void;
}

/** Which lock, and whether to wait for it: what every way of taking a lock is asked. */
export interface LockChoice {
  /** Lock name; hashed to the id with SHA-256 (see key/lock-id.ts). Give this or `lockId`. */
  key?: string;
  /** Raw 64-bit advisory lock id, for interop with code that already locks by number. */
  lockId?: bigint;
  /** Wait for the lock instead of failing fast. */
  wait?: boolean;
  /** Wait at most this long (milliseconds), then throw LockTimeoutError. Implies `wait`. */
  timeoutMs?: number;
}

export interface AcquireOptions extends LockConnectionOptions, LockChoice {
  /** Take the shared form of the lock. */
  shared?: boolean;
  /** Counting semaphore: let up to this many holders in at once (slots; see key/lock-id.ts slotIds). */
  limit?: number;
  /** After acquiring, take the next fencing token for the key (kept in the run record). Implies `record`. */
  fencingToken?: boolean;
  /** Keep the run record: the key's last run, its start, end, host and pid (see runs/). */
  record?: boolean;
  /**
   * Run only if no run of this key started less than this long ago (by the database's clock);
   * else reject with RecentRunError (a LockBusyError) carrying the last run. Implies `record`.
   */
  minIntervalMs?: number;
  /**
   * Hold the lock in a transaction kept open (pg_advisory_xact_lock) instead of as a session lock:
   * for a transaction-mode pooler (PgBouncer), where a session lock would belong to a server
   * connection pglock no longer talks to. 'auto' (default): only when such a pooler is detected.
   * Not with `record`, `fencingToken`, `minIntervalMs` or `limit`.
   */
  transaction?: boolean | 'auto';
  /** With a run record: keep this many runs of the key (default 100; 0 or 1: only the last). */
  history?: number;
  /** Cancels connecting or waiting; the acquire then rejects with LockWaitAbortedError. */
  signal?: AbortSignal;
  /** Called once if the lock is lost while held (connection closed, check failed). */
  onLost?: (error: LockLostError) => void;
  /** Called before each connection retry. */
  onRetry?: (reason: string, delayMs: number, attempt: number) => void;
  /**
   * A waiter (`wait`, `timeoutMs`) keeps trying to connect until its wait ends; called each time
   * another `connectTimeoutMs` has passed without a primary, with the error a fail-fast acquire
   * would have rejected with.
   */
  onUnavailable?: (error: PglockError) => void;
  /** Called when a transaction-mode pooler was detected and the lock is taken in a transaction instead. */
  onTransactionMode?: (reason: string) => void;
  /** Called when a waiter lost its connection before the grant and connects again. */
  onReconnect?: (reason: string) => void;
  /**
   * Called each time a connection attempt has started (its socket is connecting): work done then
   * overlaps the server's side of the handshake (the CLI spawns the command's launcher).
   */
  onConnecting?: () => void;
}
