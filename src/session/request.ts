import { LockTimeoutError, LockWaitAbortedError, UsageError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { labelOf, resolveLockTarget } from '../key/target.js';

/** What one `LockSession.acquire` asks for. */
export interface SessionAcquireOptions {
  /** Lock name; hashed to the id with SHA-256 (see lockIdForKey). Give this or `lockId`. */
  key?: string;
  /** Raw 64-bit advisory lock id. */
  lockId?: bigint;
  /** Wait for the lock instead of failing fast. */
  wait?: boolean;
  /** Wait at most this long (milliseconds), then throw LockTimeoutError. Implies `wait`. */
  timeoutMs?: number;
  /** Take the shared form of the lock. */
  shared?: boolean;
  /** Cancels the wait; the acquire then rejects with LockWaitAbortedError. */
  signal?: AbortSignal;
}

/** An acquire, resolved and checked. */
export interface SessionRequest {
  id: bigint;
  key: string | undefined;
  label: string;
  shared: boolean;
  wait: boolean;
  timeoutMs: number | undefined;
  /** With a timeout: when the wait ends (Date.now() scale). */
  deadline: number | undefined;
  signal: AbortSignal | undefined;
}

export function resolveSessionRequest(options: SessionAcquireOptions): SessionRequest {
  if (options === null || typeof options !== 'object') throw new UsageError('acquire takes an options object: { key } or { lockId }');
  const { id, key } = resolveLockTarget(options);
  const { timeoutMs } = options;
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) throw new UsageError(`timeoutMs must be a number of milliseconds, 0 or more, got ${timeoutMs}`);
  const wait = options.wait === true || (timeoutMs !== undefined && timeoutMs > 0);
  return {
    id, key, shared: options.shared === true, wait, timeoutMs, signal: options.signal,
    label: labelOf(id, key),
    deadline: wait && timeoutMs !== undefined && timeoutMs > 0 ? Date.now() + timeoutMs : undefined,
  };
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
