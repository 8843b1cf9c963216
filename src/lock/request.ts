import { type ConnectionConfig, defaultApplicationName, pickDatabaseUrl, resolveConnectionConfig } from '../connection/index.js';
import { UsageError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { MAX_LIMIT } from '../key/lock-id.js';
import { type LockTarget, resolveLockTarget } from '../key/target.js';
import { type AcquireOptions, type LockChoice, type LockConnectionOptions, DEFAULT_HEARTBEAT_MS } from './options.js';

/** Whether and how long to wait, checked: the same rules for every way of taking a lock. */
export interface WaitPlan {
  wait: boolean;
  timeoutMs: number | undefined;
  /** With a timeout: when the wait ends (Date.now() scale). */
  deadline: number | undefined;
}

/** What one acquireLock asks for, resolved and checked before connecting. */
export interface AcquireRequest extends LockTarget, WaitPlan {
  config: ConnectionConfig;
  shared: boolean;
  limit: number;
  heartbeatMs: number;
  applicationName: string;
  /** Keep the run record, and why (for the message when the table cannot be written). */
  record: string | undefined;
  minIntervalMs: number | undefined;
  transaction: boolean | 'auto';
  takeover: TakeoverPlan;
  options: AcquireOptions;
}

/** The takeover delay asked for, and this holder's own bound (what it records for the next). */
export interface TakeoverPlan {
  delay: 'auto' | number;
  boundMs: number;
}

/** The connection a lock's options name: `connection`, else `url`, else the environment (libpq's rules). */
export function resolveLockConnection(options: LockConnectionOptions): ConnectionConfig {
  const env = options.env ?? process.env;
  return options.connection ?? resolveConnectionConfig(pickDatabaseUrl(options.url, env), env);
}

/** The lock and the wait asked for: `{ key }` or `{ lockId }`, `wait`, `timeoutMs` (which implies wait). */
export function resolveChoice(options: LockChoice): LockTarget & WaitPlan {
  if (options === null || typeof options !== 'object') throw new UsageError('a lock takes an options object: { key } or { lockId }');
  const { id, key, label } = resolveLockTarget(options);
  const { wait, timeoutMs, deadline } = resolveWait(options);
  // Written out, not spread: merging two spreads costs a warm section more than the rest of this (2 µs).
  return { id, key, label, wait, timeoutMs, deadline };
}

export function resolveWait(options: { wait?: boolean | undefined; timeoutMs?: number | undefined }): WaitPlan {
  const { timeoutMs } = options;
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
    throw new UsageError(`timeoutMs must be a number of milliseconds, 0 or more, got ${String(timeoutMs)}`);
  }
  const bounded = timeoutMs !== undefined && timeoutMs > 0;
  return { wait: options.wait === true || bounded, timeoutMs, deadline: bounded ? Date.now() + timeoutMs : undefined };
}

/** What is left of a wait's time, for the next statement: nothing when it is unbounded. */
export function remaining(plan: { deadline: number | undefined }): { timeoutMs?: number } {
  return plan.deadline === undefined ? {} : { timeoutMs: Math.max(1, plan.deadline - Date.now()) };
}

/**
 * The takeover delay and this holder's bound: its loss detection (two heartbeats: one interval, and
 * a check that does not answer within one more; `detectWithinMs` when something else proves the
 * lock) plus `stopWithinMs`. Settings that cannot keep the promise are refused here, before
 * connecting, as client-go refuses a lease no longer than its renew deadline.
 */
export function resolveTakeover(
  options: Pick<AcquireOptions, 'lockDelay' | 'stopWithinMs'>, heartbeatMs: number, detectWithinMs?: number,
  names: { heartbeat: string; delay: string } = { heartbeat: 'heartbeatMs', delay: 'lockDelay' },
): TakeoverPlan {
  const delay = options.lockDelay ?? 'auto';
  if (delay !== 'auto' && !(typeof delay === 'number' && Number.isFinite(delay) && delay >= 0)) {
    throw new UsageError(`lockDelay must be 'auto' or a number of milliseconds, 0 or more, got ${String(delay)}`);
  }
  const stop = options.stopWithinMs ?? 0;
  if (!(typeof stop === 'number' && Number.isFinite(stop) && stop >= 0)) throw new UsageError(`stopWithinMs must be a number of milliseconds, 0 or more, got ${String(stop)}`);
  const detect = detectWithinMs ?? 2 * heartbeatMs;
  if (detect === 0 && delay !== 0) {
    throw new UsageError(`${names.heartbeat} 0 never notices a silent network cut, so a holder after this one could not know when it has stopped: ` +
      `give a heartbeat, or turn the takeover delay off (${names.delay} 0)`);
  }
  const boundMs = detect + stop;
  if (typeof delay === 'number' && delay > 0 && delay < boundMs) {
    throw new UsageError(`${names.delay} ${formatDuration(delay)} is shorter than this holder's own bound (${formatDuration(boundMs)}: ` +
      `${formatDuration(detect)} to notice a lost lock, ${formatDuration(stop)} to stop): a holder after it could start while it still runs`);
  }
  return { delay, boundMs };
}

export function resolveAcquireRequest(options: AcquireOptions, choice: LockTarget & WaitPlan = resolveChoice(options), detectWithinMs?: number): AcquireRequest {
  const config = resolveLockConnection(options);
  const shared = options.shared ?? false;
  const limit = options.limit ?? 1;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new UsageError(`limit must be a whole number from 1 to ${MAX_LIMIT}, got ${limit}`);
  if (limit > 1 && shared) throw new UsageError('a limit and a shared lock cannot be combined');
  const { minIntervalMs } = options;
  if (minIntervalMs !== undefined && !(Number.isSafeInteger(minIntervalMs) && minIntervalMs > 0)) {
    throw new UsageError(`minIntervalMs must be a whole number of milliseconds above 0, got ${minIntervalMs}`);
  }
  if (options.history !== undefined && !(Number.isSafeInteger(options.history) && options.history >= 0)) {
    throw new UsageError(`history must be a whole number of runs from 0 up, got ${options.history}`);
  }
  if (minIntervalMs !== undefined && shared) throw new UsageError('a minimum interval between runs and a shared lock cannot be combined (shared holders run together)');
  const record = minIntervalMs !== undefined ? 'a minimum interval between runs' : options.fencingToken ? 'a fencing token' : options.record ? 'the run record' : undefined;
  const transaction = options.transaction ?? 'auto';
  if (transaction === true && (record !== undefined || limit > 1)) {
    throw new UsageError(`a lock held in a transaction cannot be combined with ${record ?? 'a limit'} (they need a session lock)`);
  }
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  return {
    ...choice, config, shared, limit, record, minIntervalMs, transaction, options, heartbeatMs,
    takeover: resolveTakeover(options, heartbeatMs, detectWithinMs),
    applicationName: options.applicationName ?? defaultApplicationName(choice.key ?? String(choice.id)),
  };
}
