import type { Session } from '../connection/index.js';
import { slotIds } from '../key/lock-id.js';
import { takeLock } from '../sql/lock-statements.js';
import { connect } from './connect.js';
import { type AcquireRequest, remaining } from './request.js';
import { takeSlot } from './slots.js';

/** A lock statement's outcome, on the session that ran it. */
export interface Grant {
  session: Session;
  granted: boolean;
  backendPid: number | undefined;
  proven: boolean;
  slot?: number;
  transaction?: boolean;
}

// Try, wait, or take a slot. A slot may be granted on another session than the first. A lock the
// session setup statement already tried is not tried again.
export async function take(request: AcquireRequest, first: Session, inTransaction: boolean): Promise<Grant> {
  const { options } = request;
  if (request.limit > 1) {
    const slot = await takeSlot(first, {
      ids: slotIds(request.id, request.limit), gateId: BigInt.asIntN(64, request.id - 1n), wait: request.wait,
      openSession: () => connect(request, false),
      ...remaining(request),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!slot) return { session: first, granted: false, backendPid: undefined, proven: false };
    if (slot.session !== first) await first.close(0);
    return { ...slot, granted: true };
  }
  if (first.setupLockGranted !== undefined) {
    return { session: first, granted: first.setupLockGranted, backendPid: first.backendPid, proven: first.setupLockProven === true };
  }
  return takeOn(request, first, inTransaction);
}

/** Try or wait on this session: as a session lock, or in a transaction kept open (a transaction-mode pooler). */
export function takeOn(request: AcquireRequest, session: Session, transaction: boolean): Promise<Grant> {
  return takeLock(session.sql, {
    id: request.id, shared: request.shared, wait: request.wait, level: transaction ? 'held-transaction' : 'session',
    ...remaining(request),
    ...(request.options.signal ? { signal: request.options.signal } : {}),
  }).then((result) => ({ session, ...result, transaction }));
}

/** The id a grant holds: the key's, or with a limit the slot's. */
export function heldId(request: AcquireRequest, grant: { slot?: number | undefined }): bigint {
  return grant.slot === undefined ? request.id : slotIds(request.id, request.limit)[grant.slot]!;
}
