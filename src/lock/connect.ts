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
 * the holder's claim (the takeover delay's record) follows in the same round trip.
 */
export function setupLock(target: ClaimTarget, followInSetup = false): SetupLock {
  return {
    attempt: tryLockCall(target.id, target.shared), proof: provenAndMarked('s.pid', target.id, target.shared), follow: claimFor(target),
    followInSetup, undo: lockCall('pg_advisory_unlock', target.id, target.shared),
  };
}

// Where this process has seen the holder record work (the claim statement ran): database, role and
// hosts. A new connection there sends its claim in the setup's own message (SetupLock.followInSetup).
const recordSeen = new Set<string>();
const MAX_RECORD_SEEN = 256;

function recordPlace(config: AcquireRequest['config']): string {
  return JSON.stringify([config.database, config.user, (config.hosts ?? [config]).map((spec) => `${spec.host}:${spec.port}`)]);
}

function noteRecord(place: string, session: Session): void {
  const outcome = session.setupFollow;
  if (outcome === undefined) return;
  if (!('rows' in outcome)) recordSeen.delete(place);
  else if (!recordSeen.has(place) && recordSeen.size < MAX_RECORD_SEEN) recordSeen.add(place);
}

// A session on a primary. Not waiting for a plain lock: the session setup statement tries the lock
// too. A waiter keeps trying to connect until its own deadline (a failover, the queue draining).
export async function connect(request: AcquireRequest, tryLock = !request.wait && request.limit === 1 && request.transaction !== true): Promise<Session> {
  const { options } = request;
  const place = recordPlace(request.config);
  try {
    const session = await openSession(request.config, {
      ...lockSessionOptions(options, request.applicationName, request.heartbeatMs),
      ...(options.onConnecting ? { onConnecting: options.onConnecting } : {}),
      ...(tryLock ? { setupLock: setupLock(request, recordSeen.has(place)) } : {}),
      ...(request.wait ? { waitDeadline: request.deadline ?? Number.POSITIVE_INFINITY } : {}),
      ...(request.wait && options.onUnavailable ? { onUnavailable: options.onUnavailable } : {}),
      ...(request.transaction === true ? { noSessionSettings: true } : {}),
    });
    noteRecord(place, session);
    return session;
  } catch (error) {
    if (request.wait && request.timeoutMs && error instanceof PglockError && error.code === 'ETOOMANY') {
      throw new LockTimeoutError(`timed out after ${formatDuration(request.timeoutMs)} waiting for the lock ${request.label}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
