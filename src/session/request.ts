import { type LockLostError, LockTimeoutError, LockWaitAbortedError } from '../errors.js';
import { formatDuration } from '../duration.js';
import type { LockTarget } from '../key/target.js';
import { type LockChoice, type LockConnectionOptions, type WaitPlan, resolveChoice } from '../lock/index.js';
import type { SessionLock } from './session-lock.js';

/**
 * The connection options of acquireLock; `heartbeatMs`: how often one statement proves every lock
 * of the session; `applicationName` defaults to `pglock:(session)@<host>:<pid>`.
 */
export interface LockSessionOptions extends LockConnectionOptions {
  /** Cancels opening the session. */
  signal?: AbortSignal;
  /** Called when a lock of the session is lost while held. */
  onLost?: (error: LockLostError, lock: SessionLock) => void;
  /** Called before each connection retry. */
  onRetry?: (reason: string, delayMs: number, attempt: number) => void;
}

/** What one `LockSession.acquire` asks for. */
export interface SessionAcquireOptions extends LockChoice {
  /** Take the shared form of the lock. */
  shared?: boolean;
  /** Cancels the wait; the acquire then rejects with LockWaitAbortedError. */
  signal?: AbortSignal;
}

/** An acquire, resolved and checked (the same rules as acquireLock's). */
export interface SessionRequest extends LockTarget, WaitPlan {
  shared: boolean;
  signal: AbortSignal | undefined;
}

export function resolveSessionRequest(options: SessionAcquireOptions): SessionRequest {
  const { id, key, label, wait, timeoutMs, deadline } = resolveChoice(options);
  return { id, key, label, wait, timeoutMs, deadline, shared: options.shared === true, signal: options.signal };
}

/** Wait until another holder in this process has given the id back, within the request's limits. */
export function waitUntilFreed(freed: Promise<void>, request: SessionRequest): Promise<void> {
  if (request.signal?.aborted) return Promise.reject(new LockWaitAbortedError('the wait for the lock was cancelled'));
  return new Promise((resolve, reject) => {
    const timer = request.deadline === undefined ? undefined : setTimeout(() => {
      done();
      reject(new LockTimeoutError(`timed out after ${formatDuration(request.timeoutMs!)} waiting for the lock ${request.label}, held by this lock session (pid ${process.pid})`, {
        holders: [`this lock session (pid ${process.pid})`],
      }));
    }, Math.max(0, request.deadline - Date.now()));
    const abort = () => {
      done();
      reject(new LockWaitAbortedError('the wait for the lock was cancelled'));
    };
    request.signal?.addEventListener('abort', abort, { once: true });
    void freed.then(() => {
      done();
      resolve();
    });
    function done() {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', abort);
    }
  });
}
