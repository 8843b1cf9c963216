import { type Lock, acquireLock } from '../../lock/index.js';
import { describeTarget } from '../../connection/index.js';
import { formatDuration } from '../../duration.js';
import { LockBusyError, LockWaitAbortedError, RecentRunError } from '../../errors.js';
import { describeRun } from '../../runs/index.js';
import { displayKey } from '../../key/display-key.js';
import type { Logger } from '../logger.js';
import type { RunOptions } from '../args/options.js';

// Taking the lock for the run program, and saying so: a busy lock, a run too recent for
// --min-interval and a wait cancelled by a signal are no errors (undefined: the command does not
// run); anything else propagates.

/** Connect and take the lock; undefined when it was not taken (busy, too recent, cancelled). */
export async function takeLock(options: RunOptions, log: Logger, signal: AbortSignal, onConnecting: () => void): Promise<Lock | undefined> {
  let slotTries = 0;
  try {
    const { service, ignoredParams } = options.connection;
    if (service) log.info(`connection settings from service '${service.name}' in ${service.file}`);
    if (ignoredParams.length > 0) log.info(`ignoring connection parameters pglock does not use: ${ignoredParams.join(', ')}`);
    log.info(`connecting to ${describeTarget(options.connection)}`);
    const lock = await acquireLock({
      ...(options.key === undefined ? { lockId: options.lockId } : { key: options.key }),
      connection: options.connection,
      wait: options.wait,
      shared: options.shared,
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      fencingToken: options.fencingToken,
      record: options.record,
      ...(options.history === undefined ? {} : { history: options.history }),
      ...(options.minIntervalMs === undefined ? {} : { minIntervalMs: options.minIntervalMs }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      connectTimeoutMs: options.connectTimeoutMs,
      heartbeatMs: options.heartbeatMs,
      lockDelay: options.lockDelay,
      stopWithinMs: options.stopWithinMs,
      onDelay: (delay) => log.info(delay.message, {
        delayedUntil: delay.until.toISOString(), delayMs: delay.delayMs, cutOffHost: delay.cutOff?.host ?? undefined,
        cutOffPid: delay.cutOff?.pid ?? undefined, cutOffBackendPid: delay.cutOff?.backendPid, cutOffBoundMs: delay.cutOff?.boundMs,
      }),
      onRecordUnavailable: (reason) => log.warn(reason),
      signal,
      onRetry: (reason, delayMs, attempt) => {
        if (/no free connection slot/.test(reason)) slotTries = attempt;
        const what = slotTries === attempt ? 'waiting for a connection slot' : 'cannot connect yet';
        log.info(`${what} (${reason}); try ${attempt} failed, retrying in ${formatDuration(delayMs)}`);
      },
      // A waiter waits through an outage (a failover) until its own deadline: said at each --connect-timeout.
      onUnavailable: (error) => log.warn(`${error.message}; ${options.timeoutMs === undefined
        ? 'waiting on, as --wait does (no time limit)' : `waiting on until --timeout ${formatDuration(options.timeoutMs)} runs out`}`),
      onReconnect: (reason) => log.warn(reason),
      onTransactionMode: (reason) => log.info(reason),
      transaction: options.transaction,
      onConnecting,
    });
    if (slotTries > 0) log.info(`got a connection slot after ${slotTries + 1} tries`);
    return lock;
  } catch (error) {
    if (error instanceof LockWaitAbortedError && signal.aborted) return undefined;
    if (error instanceof RecentRunError) {
      const { lastRun } = error;
      log.notice(`the last run of ${label(options)} ${describeRun(lastRun, options.limit === undefined ? 'no' : 'unknown')}; ` +
        `--min-interval ${formatDuration(error.minIntervalMs)}: not running the command`, {
        code: error.code, exitCode: options.conflictExitCode,
        lastRunStartedAt: lastRun.startedAt.toISOString(), lastRunAgeMs: lastRun.ageMs, lastRunHost: lastRun.host, lastRunPid: lastRun.pid,
        lastRunOutcome: lastRun.outcome, lastRunExitCode: lastRun.exitCode ?? undefined, lastRunSignal: lastRun.signal ?? undefined,
      });
      return undefined;
    }
    if (error instanceof LockBusyError) {
      log.notice(`${error.message}; not running the command`, { code: error.code, holders: error.holders.join('; ') || undefined, exitCode: options.conflictExitCode });
      return undefined;
    }
    throw error;
  }
}

// Logged only once the command has been told to run: nothing delays the handoff.
export function logAcquired(lock: Lock, options: RunOptions, started: number, log: Logger): void {
  const details = [
    `id ${lock.id}`,
    ...(lock.shared ? ['shared'] : []),
    ...(lock.slot === undefined ? [] : [`slot ${lock.slot} of ${options.limit}`]),
    ...(lock.fencingToken === undefined ? [] : [`fencing token ${lock.fencingToken}`]),
    `backend ${lock.backendPid}`,
  ];
  log.info(`acquired lock ${label(options)} (${details.join(', ')}) after ${formatDuration(Date.now() - started)}`, {
    heldId: String(lock.id), slot: lock.slot, shared: lock.shared || undefined,
    fencingToken: lock.fencingToken === undefined ? undefined : String(lock.fencingToken), backendPid: lock.backendPid,
  });
}

function label(options: RunOptions): string {
  return options.key === undefined ? `id ${options.lockId}` : `'${displayKey(options.key)}'`;
}
