import { type Session, describeConnectError, describeTarget, isRetryable } from '../connection/index.js';
import { DatabaseUnavailableError, type LockBusyError, LockWaitAbortedError, PglockError } from '../errors.js';
import { slotIds } from '../key/lock-id.js';
import type { LockTarget } from '../key/target.js';
import type { RunEnd } from '../runs/index.js';
import { busyError, findHolders, findLastRun } from './busy.js';
import { connect } from './connect.js';
import { type ClaimTarget, describeDelay, settleClaim, waitOutDelay } from './delay.js';
import type { Claim } from '../takeover/index.js';
import { Lock } from './lock.js';
import type { AcquireOptions } from './options.js';
import { canHoldInTransaction, isTransactionPooler, takeInTransaction } from './pooler.js';
import { permissionErrorFor } from './privilege.js';
import { proveGrant } from './prove.js';
import { recordStart } from './record.js';
import { type AcquireRequest, type WaitPlan, resolveAcquireRequest } from './request.js';
import { type Grant, heldId, take } from './take.js';

/**
 * Open a dedicated connection to a primary and take the advisory lock on it.
 * Rejects with LockBusyError when the lock is held elsewhere (fail fast, the default),
 * LockTimeoutError when `timeoutMs` runs out, DatabaseUnavailableError when it cannot connect.
 *
 * The steps: resolve → connect (to a primary) → take (try, wait, or a slot) → prove (the grant
 * is in pg_locks, on this backend) → record (fencing token) → watch (the Lock). A waiter that
 * loses its connection before the grant holds nothing: it reconnects and waits again.
 */
export function acquireLock(options: AcquireOptions): Promise<Lock> {
  try {
    return acquire(resolveAcquireRequest(options));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * acquireLock for a lock and wait already resolved (a lock session's wait, an election's term).
 * `detectWithinMs`: how soon a loss is noticed when something other than this lock's own heartbeat
 * proves it (a lock session's heartbeat), for the holder's bound.
 */
export function acquireResolved(options: AcquireOptions, choice: LockTarget & WaitPlan, detectWithinMs?: number): Promise<Lock> {
  return acquire(resolveAcquireRequest(options, choice, detectWithinMs));
}

async function acquire(request: AcquireRequest): Promise<Lock> {
  const { options } = request;
  for (;;) {
    const first = await connect(request);
    let grant: Grant | undefined;
    try {
      grant = await take(request, first, request.transaction === true || (await isTransactionPooler(request, first)));
      if (!grant.granted) throw await notGranted(request, grant.session);
      if (options.signal?.aborted) throw new LockWaitAbortedError('cancelled just as the lock was granted');
      try {
        await prove(request, grant);
      } catch (error) {
        if (!(error instanceof DatabaseUnavailableError && error.code === 'EPOOLER' && canHoldInTransaction(request))) throw error;
        // Giving the grant back may cost the connection (a pooled server connection ended under the pooler).
        if (grant.session.isClosed()) throw new DatabaseUnavailableError(`${error.message}; the pooler closed the connection while pglock gave the lock back`, { code: 'EPOOLER', cause: error });
        grant = await takeInTransaction(request, grant.session, error);
        if (!grant.granted) throw await notGranted(request, grant.session);
        await prove(request, grant);
      }
      const run = await recordStart(request, grant.session);
      const target = { ...request, id: heldId(request, grant) };
      const claim = grant.transaction ? undefined : await settleClaim(grant.session, target, grant.claim, options.onRecordUnavailable);
      // Lost while waiting out a delay, the lock was never handed out: the caller hears of it by the rejection.
      let handedOut = false;
      const lock = new Lock(grant.session, {
        id: target.id, key: request.key, shared: request.shared, slot: grant.slot, run, claimed: claim !== undefined, ahead: claim?.ahead === true,
        backendPid: grant.backendPid ?? grant.session.backendPid, transaction: grant.transaction === true,
      }, request.heartbeatMs, (error) => handedOut && options.onLost?.(error));
      if (claim !== undefined && claim.delayMs > 0) await delayStart(request, target, claim, lock);
      handedOut = true;
      return lock;
    } catch (error) {
      if (grant && grant.session !== first) await grant.session.close(0);
      await first.close(0);
      if (error instanceof PglockError) throw error;
      if (shouldReconnect(request, error)) {
        options.onReconnect?.(`lost the connection to ${describeTarget(request.config, first.host)} while waiting (${describeConnectError(error)}); connecting again`);
        continue;
      }
      throw permissionErrorFor(error, request.config.user) ?? new DatabaseUnavailableError(`lost the connection to ${describeTarget(request.config, first.host)} while taking the lock: ${describeConnectError(error)}`, { cause: error });
    }
  }
}

// The previous holder was cut off: hold the lock, and start only once it must have stopped.
async function delayStart(request: AcquireRequest, target: ClaimTarget, claim: Claim, lock: Lock): Promise<void> {
  request.options.onDelay?.(describeDelay(target, claim));
  try {
    await waitOutDelay(claim, lock, request.options.signal);
  } catch (error) {
    await lock.release({ end: { outcome: 'not-started' } }).catch(() => undefined);
    throw error;
  }
}

function prove(request: AcquireRequest, grant: Grant): Promise<void> {
  const lock = { id: heldId(request, grant), shared: request.shared, label: request.label };
  return proveGrant(grant, lock, request.config, request.applicationName);
}

// Busy (or timed out): who holds it, as far as this session may see; with a run record, the last run.
async function notGranted(request: AcquireRequest, session: Session): Promise<LockBusyError> {
  const ids = request.limit > 1 ? slotIds(request.id, request.limit) : [request.id];
  const holders = session.isClosed() ? undefined : await findHolders(session.sql, ids, session.backendPid);
  const lastRun = holders?.length === 0 && request.record !== undefined ? await findLastRun(session.sql, ids) : undefined;
  return busyError(request, holders, lastRun);
}

// A waiter that loses its connection before the grant holds nothing anywhere: it may reconnect
// (to whichever host is the primary now) and queue again, while its own deadline allows.
function shouldReconnect(request: AcquireRequest, error: unknown): boolean {
  if (!request.wait || request.options.signal?.aborted) return false;
  if (request.deadline !== undefined && Date.now() >= request.deadline) return false;
  return isRetryable(error);
}

/**
 * Acquire, run `fn` with the lock, release — even when `fn` throws (recorded as completed or failed).
 * Resolves once the server has confirmed the unlock; the connection, no longer usable by anyone,
 * finishes closing behind it (its backend exits a millisecond or two later), as `release({
 * waitForClose: false })` does.
 */
export async function withLock<T>(options: AcquireOptions, fn: (lock: Lock) => Promise<T> | T): Promise<T> {
  const lock = await acquireLock(options);
  let end: RunEnd = { outcome: 'failed' };
  try {
    const result = await fn(lock);
    end = { outcome: 'completed' };
    return result;
  } finally {
    await lock.release({ end, waitForClose: false });
  }
}
