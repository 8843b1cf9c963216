import { type Session, describeTarget, probeBackendPid } from '../connection/index.js';
import { DatabaseUnavailableError, PglockError } from '../errors.js';
import type { AcquireRequest } from './request.js';
import { type Grant, takeOn } from './take.js';

// Before a session lock is taken through a pooler (not yet tried in the setup statement): is it a
// transaction-mode pool? Then the lock goes in a transaction from the start — a session lock, and
// above all a session-level wait, would stay on whichever pooled server connection ran it, and its
// unlock could reach another. A second connection that is handed our idle backend says so.
export async function isTransactionPooler(request: AcquireRequest, session: Session): Promise<boolean> {
  if (!session.proxied || session.setupLockGranted !== undefined || !canHoldInTransaction(request)) return false;
  const handedOurs = (await probeBackendPid(request.config, session.host, request.applicationName)) === session.backendPid;
  if (handedOurs) announceTransactionMode(request, session);
  return handedOurs;
}

// A session lock was refused by a transaction-mode pooler: take it in a transaction kept open on
// the same client connection (the pooler keeps a transaction on one server connection). A pooler
// in statement mode refuses the transaction itself: then the pooler error stands.
export async function takeInTransaction(request: AcquireRequest, session: Session, refused: DatabaseUnavailableError): Promise<Grant> {
  try {
    const grant = await takeOn(request, session, true);
    announceTransactionMode(request, session);
    return grant;
  } catch (error) {
    if (error instanceof PglockError) throw error;
    throw new DatabaseUnavailableError(refused.message.replace('in transaction or statement mode', 'in statement mode'), { code: 'EPOOLER', cause: error });
  }
}

/** A session lock refused by a pooler may be held in a transaction instead: not with a run record or slots. */
export function canHoldInTransaction(request: AcquireRequest): boolean {
  return request.transaction === 'auto' && request.record === undefined && request.limit === 1;
}

function announceTransactionMode(request: AcquireRequest, session: Session): void {
  request.options.onTransactionMode?.(`${describeTarget(request.config, session.host)} is a transaction-mode pooler: holding the lock in a transaction kept open while it is held`);
}
