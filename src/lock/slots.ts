import type { ReservedSql, Session } from '../connection/index.js';
import { LockWaitAbortedError } from '../errors.js';
import { grantProof, releaseLock, takeLock, tryLockCall } from '../sql/lock-statements.js';

// --limit n: a counting semaphore made of n advisory locks, the slots (ids in key/lock-id.ts:
// slotIds). A holder holds any one slot. PostgreSQL can only wait for one lock per session, so a
// waiter cannot wait for "any slot" on one connection; polling would waste the server and delay
// the handoff. Instead waiters queue on a gate lock (id − 1), server-side and in order; the one
// holding the gate opens a session per remaining slot and waits on every slot at once, so it gets
// whichever slot frees first (whether its holder released it or died), then hands the gate on.
// Only the waiter at the head of the queue uses n connections; the rest use one.

export interface SlotPlan {
  /** The slot ids, slot 0 first. */
  ids: bigint[];
  /** The lock the waiters queue on. */
  gateId: bigint;
  wait: boolean;
  /** With wait: give up after this long (covers the queue and the slot wait together). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Opens one more session like the first (for the waits on the other slots). */
  openSession: () => Promise<Session>;
}

export interface SlotGrant {
  session: Session;
  slot: number;
  /** pid of the backend whose statement was granted the slot. */
  backendPid: number | undefined;
  /** pg_locks showed the grant on that backend, in the same statement. */
  proven: boolean;
}

/** Take a free slot with `first`, or wait for one; undefined when none was free (or in time). */
export async function takeSlot(first: Session, plan: SlotPlan): Promise<SlotGrant | undefined> {
  const free = await trySlots(first.sql, plan.ids);
  if (free.slot >= 0 || !plan.wait) return free.slot >= 0 ? { session: first, ...free } : undefined;
  const deadline = plan.timeoutMs === undefined ? undefined : Date.now() + plan.timeoutMs;
  const gate = await takeLock(first.sql, { id: plan.gateId, shared: false, wait: true, ...remaining(deadline), ...(plan.signal ? { signal: plan.signal } : {}) });
  if (!gate.granted) return undefined;
  try {
    // Slots may have freed while we queued: one statement tries them all again.
    const again = await trySlots(first.sql, plan.ids);
    if (again.slot >= 0) return { session: first, ...again };
    return await waitForAnySlot(first, plan, deadline);
  } finally {
    if (!first.isClosed()) await releaseLock(first.sql, plan.gateId, false).catch(() => false);
  }
}

// One statement tries the slots in order and stops at the first it gets (CASE evaluates its
// conditions only as far as needed), so it never holds two; the outer query proves the slot taken.
async function trySlots(sql: ReservedSql, ids: bigint[]): Promise<{ slot: number; backendPid: number | undefined; proven: boolean }> {
  const branches = ids.map((id, slot) => `when ${tryLockCall(id, false)} then ${slot}`).join(' ');
  const proofs = ids.map((id, slot) => `when s.slot operator(pg_catalog.=) ${slot} then ${grantProof('s.pid', id, false)}`).join(' ');
  const [row] = await sql.unsafe<{ slot: number; pid: number; proven: boolean }[]>(`
    select s.slot, s.pid, case ${proofs} else false end as proven
    from (select case ${branches} else -1 end as slot, pg_catalog.pg_backend_pid() as pid offset 0) s`);
  return { slot: row?.slot ?? -1, backendPid: row?.pid, proven: row?.proven === true };
}

// Wait on slot 0 with the first session and on every other slot with a session of its own. The
// first grant wins; the other waits are cancelled, a slot granted in the same instant is released
// again, and every session but the winner's is closed.
async function waitForAnySlot(first: Session, plan: SlotPlan, deadline: number | undefined): Promise<SlotGrant | undefined> {
  const others = await Promise.allSettled(plan.ids.slice(1).map(() => plan.openSession()));
  const failed = others.find((outcome) => outcome.status === 'rejected');
  const sessions = [first, ...others.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []))];
  if (failed) {
    await Promise.all(sessions.slice(1).map((session) => session.close(0)));
    throw failed.reason;
  }
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  plan.signal?.addEventListener('abort', onAbort, { once: true });
  const waits = sessions.map((session, slot) =>
    takeLock(session.sql, { id: plan.ids[slot]!, shared: false, wait: true, ...remaining(deadline), signal: stop.signal }).then(
      (result) => ({ slot, granted: result.granted, pid: result.backendPid, proven: result.proven, error: undefined as unknown }),
      (error: unknown) => ({ slot, granted: false, pid: undefined, proven: false, error }),
    ),
  );
  try {
    const winner = await firstGranted(waits);
    stop.abort();
    const outcomes = await Promise.all(waits);
    await Promise.all(outcomes.map(async (outcome) => {
      const session = sessions[outcome.slot]!;
      if (outcome.slot === winner?.slot) return;
      if (outcome.granted) await releaseLock(session.sql, plan.ids[outcome.slot]!, false).catch(() => false);
      if (session !== first) await session.close(0);
    }));
    if (winner) return { session: sessions[winner.slot]!, slot: winner.slot, backendPid: winner.pid, proven: winner.proven };
    if (plan.signal?.aborted) throw new LockWaitAbortedError('the wait for a slot was cancelled');
    const failure = outcomes.find((outcome) => outcome.error !== undefined && !(outcome.error instanceof LockWaitAbortedError));
    if (failure) throw failure.error;
    return undefined;
  } finally {
    plan.signal?.removeEventListener('abort', onAbort);
  }
}

function firstGranted<T extends { granted: boolean }>(waits: Promise<T>[]): Promise<T | undefined> {
  return new Promise((resolve) => {
    let pending = waits.length;
    for (const wait of waits) {
      void wait.then((outcome) => {
        if (outcome.granted) resolve(outcome);
        else if (--pending === 0) resolve(undefined);
      });
    }
  });
}

function remaining(deadline: number | undefined): { timeoutMs?: number } {
  return deadline === undefined ? {} : { timeoutMs: Math.max(1, deadline - Date.now()) };
}
