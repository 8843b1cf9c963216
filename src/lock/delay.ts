import { hostname } from 'node:os';
import type { Session } from '../connection/index.js';
import { DatabaseUnavailableError, LockLostError, LockWaitAbortedError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { send } from '../sql/statement.js';
import { type Claim, type ClaimRequest, type TakeoverDelay, claimCallStatement, claimStatement, installRecord, isMissingRecord, parseClaim, primeStatement } from '../takeover/index.js';
import { sleep } from '../sleep.js';
import type { TakeoverPlan } from './request.js';

/** A claim statement's outcome as it came back: its rows, or its error. */
export type ClaimOutcome = { rows: readonly Record<string, unknown>[] } | { error: unknown };

/** What the claim after a grant needs: the lock held, and the takeover plan. */
export interface ClaimTarget {
  id: bigint;
  key: string | undefined;
  shared: boolean;
  label: string;
  takeover: TakeoverPlan;
}

/**
 * The claim statement for a grant of `target` on this process's behalf: 'mark', right behind the
 * lock statement (which left its proven grant in a session setting); 'locks', on its own later,
 * proving the grant from pg_locks itself.
 */
export function claimFor(target: ClaimTarget, held: 'mark' | 'locks' = 'mark', form: 'plain' | 'function' = 'plain'): string {
  return claimStatement(claimRequestOf(target), held, form);
}

/**
 * Run the claim statement now, behind a lock statement already sent (pipelined): its outcome, never
 * a rejection. `form` 'function' on a warm session (see claimStatement), `prepared` there too.
 */
export function sendClaim(session: Session, target: ClaimTarget, held: 'mark' | 'locks' = 'mark', form: 'plain' | 'function' = 'plain', prepared = false): Promise<ClaimOutcome> {
  const query = prepared && held === 'mark' && form === 'function'
    ? send(session.sql, claimCallStatement(claimRequestOf(target)), true)
    : session.sql.unsafe<Record<string, unknown>[]>(claimFor(target, held, form));
  return query.then((rows) => ({ rows }), (error: unknown) => ({ error }));
}

/**
 * Ready the claim function on a waiter's connection before it queues (primeStatement): true when it
 * ran, creating the record first when it was not there yet; false when this role cannot use it.
 */
export async function readyClaim(session: Session, target: ClaimTarget): Promise<boolean> {
  const prime = () => session.sql.unsafe(primeStatement(claimRequestOf(target)));
  try {
    await prime();
    return true;
  } catch (error) {
    if (!isMissingRecord(error)) return false;
  }
  try {
    await installRecord(session.sql);
    await prime();
    return true;
  } catch {
    return false;
  }
}

/**
 * The claim of a proven grant: from the statement that followed the grant (`pending`), or, when
 * there was none or the record's objects did not exist yet, from a statement of its own (creating
 * the objects first). Undefined when the record cannot be kept: with 'auto' or 0 the lock is
 * still held (the delay is off, `onUnavailable` says why); with a fixed delay it is an error.
 */
export async function settleClaim(
  session: Session, target: ClaimTarget, pending: ClaimOutcome | undefined, onUnavailable?: (reason: string) => void,
): Promise<Claim | undefined> {
  let outcome = pending ?? (await sendClaim(session, target, 'locks'));
  if ('error' in outcome && isMissingRecord(outcome.error)) {
    try {
      await installRecord(session.sql);
      outcome = await sendClaim(session, target, 'locks');
    } catch (error) {
      outcome = { error };
    }
  }
  if ('rows' in outcome) {
    return parseClaim(outcome.rows as { claim?: string | null; at?: Date | null }[]);
  }
  const reason = (outcome.error as Error)?.message?.split('\n')[0] ?? String(outcome.error);
  if (typeof target.takeover.delay === 'number' && target.takeover.delay > 0) {
    throw new DatabaseUnavailableError(`a lock delay needs pglock's holder record, and this role cannot keep it (${reason}); see docs/safety.md for the statements an administrator runs`, { cause: outcome.error, code: 'EHOLDERS' });
  }
  if (target.takeover.delay === 'auto') {
    onUnavailable?.(`the takeover delay is off for the lock ${target.label}: pglock cannot keep its holder record (${reason}); see docs/safety.md for the statements an administrator runs, or set the lock delay to 0`);
  }
  return undefined;
}

/** How a delayed start is told: who was cut off, and how long this start waits. */
export function describeDelay(target: ClaimTarget, claim: Claim): TakeoverDelay {
  const cut = claim.cutOff;
  const who = cut === undefined ? 'a holder' : `the previous holder${cut.pid === null ? '' : ` (pid ${cut.pid}${cut.host ? ` on ${cut.host}` : ''}, backend ${cut.backendPid})`}`;
  const message = `${who} of the lock ${target.label} was cut off without releasing it; waiting ${formatDuration(claim.delayMs)}, ` +
    `until ${claim.until.toISOString()}, for it to have stopped${cut ? ` (its bound: ${formatDuration(cut.boundMs)})` : ''}`;
  return { label: target.label, delayMs: claim.delayMs, until: claim.until, cutOff: cut, message };
}

/**
 * Wait out a delayed start while holding the lock: ends early with the lock's loss (LockLostError)
 * or the caller's cancel (LockWaitAbortedError).
 */
export async function waitOutDelay(claim: Claim, lock: { signal: AbortSignal; lost: Promise<LockLostError> }, signal: AbortSignal | undefined): Promise<void> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  lock.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await sleep(claim.delayMs, stop.signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    lock.signal.removeEventListener('abort', onAbort);
  }
  if (lock.signal.aborted) throw await lock.lost;
  if (signal?.aborted) throw new LockWaitAbortedError('cancelled while waiting out the takeover delay');
}

// This host's name, asked once (a system call each time otherwise).
let host: string | undefined;

/** What the claim statement says of this process holding `target`. */
export function claimRequestOf(target: ClaimTarget): ClaimRequest {
  host ??= hostname();
  return { id: target.id, shared: target.shared, key: target.key, host, pid: process.pid, boundMs: target.takeover.boundMs, delay: target.takeover.delay };
}
