import {
  type OpenSessionOptions, type Session, type SetupLock, openSession,
} from '../connection/index.js';
import { LockTimeoutError, PglockError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { lockCall, provenAndMarked, tryLockCall } from '../sql/lock-statements.js';
import { type LockConnectionOptions, DEFAULT_CONNECT_TIMEOUT_MS } from './options.js';
import { type ClaimTarget, claimFor } from './delay.js';
import type { AcquireRequest } from './request.js';

/** openSession's options for a lock's own connection. */
export function lockSessionOptions(
  options: LockConnectionOptions & { signal?: AbortSignal | undefined; onRetry?: OpenSessionOptions['onRetry'] },
  applicationName: string, heartbeatMs: number,
): OpenSessionOptions {
  return {
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, applicationName, heartbeatMs,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
  };
}

/**
 * The session setup statement's lock attempt: try the lock, and prove it from pg_locks on `s.pid`;
 * the holder's claim (the takeover delay's record) follows as the second statement of the same
 * query message (a statement of its own: its snapshot is taken after the grant).
 */
export function setupLock(target: ClaimTarget): SetupLock {
  return {
    attempt: tryLockCall(target.id, target.shared), proof: provenAndMarked('s.pid', target.id, target.shared), follow: claimFor(target),
    undo: lockCall('pg_advisory_unlock', target.id, target.shared),
  };
}

// A session on a primary. Not waiting for a plain lock: the session setup statement tries the lock
// too. A waiter keeps trying to connect until its own deadline (a failover, the queue draining).
export async function connect(request: AcquireRequest, tryLock = !request.wait && request.limit === 1 && request.transaction !== true): Promise<Session> {
  const { options } = request;
  try {
    return await openSession(request.config, {
      ...lockSessionOptions(options, request.applicationName, request.heartbeatMs),
      ...(options.onConnecting ? { onConnecting: options.onConnecting } : {}),
      ...(tryLock ? { setupLock: setupLock(request) } : {}),
      ...(request.wait ? { waitDeadline: request.deadline ?? Number.POSITIVE_INFINITY } : {}),
      ...(request.wait && options.onUnavailable ? { onUnavailable: options.onUnavailable } : {}),
      ...(request.transaction === true ? { noSessionSettings: true } : {}),
    });
  } catch (error) {
    if (request.wait && request.timeoutMs && error instanceof PglockError && error.code === 'ETOOMANY') {
      throw new LockTimeoutError(`timed out after ${formatDuration(request.timeoutMs)} waiting for the lock ${request.label}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
