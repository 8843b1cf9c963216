import type { Session } from '../connection/index.js';
import { slotIds } from '../key/lock-id.js';
import { takeLock } from '../sql/lock-statements.js';
import { connect } from './connect.js';
import { claimCallStatement } from '../takeover/index.js';
import { type ClaimOutcome, claimRequestOf, readyClaim, sendClaim } from './delay.js';
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
  /** The holder's claim, when it followed the lock statement in the same round trip. */
  claim?: ClaimOutcome | undefined;
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
  // A waiter tried in the setup statement too: granted at once, it holds the lock like a fail-fast
  // run; busy, it waits.
  if (first.setupLockGranted === true || (first.setupLockGranted === false && !request.wait)) {
    return { session: first, granted: first.setupLockGranted, backendPid: first.backendPid, proven: first.setupLockProven === true, claim: first.setupFollow };
  }
  return takeOn(request, first, inTransaction);
}

/** Try or wait on this session: as a session lock, or in a transaction kept open (a transaction-mode pooler). */
// A session lock's claim is sent right behind the lock statement: the server runs it the moment the
// lock is granted, in the same round trip. A lock held in a transaction kept open records nothing:
// its row could not be committed while it holds the lock.
// A waiter readies the claim function before it queues (readyClaim): the function then runs in the
// wait statement itself the moment the lock is granted, compiled and planned, and the handover pays
// only for running it. Where it cannot be readied (the record cannot be kept), the claim follows the
// lock statement as a statement of its own, and settleClaim says why.
export async function takeOn(request: AcquireRequest, session: Session, transaction: boolean): Promise<Grant> {
  const ready = request.wait && !transaction && (await readyClaim(session, request));
  const follow = ready ? claimCallStatement(claimRequestOf(request)) : undefined;
  const taking = takeLock(session.sql, {
    id: request.id, shared: request.shared, wait: request.wait, level: transaction ? 'held-transaction' : 'session',
    ...remaining(request),
    ...(request.options.signal ? { signal: request.options.signal } : {}),
    ...(follow ? { follow: { sql: follow.call, values: follow.values } } : {}),
  });
  const claim = transaction || follow ? undefined : sendClaim(session, request);
  const result = await taking;
  return { session, ...result, transaction, claim: follow ? { rows: [{ claim: result.follow }] } : await claim };
}

/** The id a grant holds: the key's, or with a limit the slot's. */
export function heldId(request: AcquireRequest, grant: { slot?: number | undefined }): bigint {
  return grant.slot === undefined ? request.id : slotIds(request.id, request.limit)[grant.slot]!;
}
