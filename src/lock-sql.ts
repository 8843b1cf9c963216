import type { ReservedSql } from './connect.js';
import { lockIdHalves } from './lock-id.js';
import { LockWaitAbortedError } from './errors.js';

// The advisory-lock statements pglock sends. The id is always a bind parameter, never SQL text.

export interface LockRequest {
  id: bigint;
  shared: boolean;
  /** Wait for the lock (server-side) instead of failing fast. */
  wait: boolean;
  /** With wait: give up after this many milliseconds (lock_timeout, scoped to the one statement). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Try or wait for the lock on this session; true when granted, false when busy or timed out. */
export async function takeLock(sql: ReservedSql, request: LockRequest): Promise<boolean> {
  const id = String(request.id);
  if (!request.wait || request.timeoutMs === 0) {
    const [row] = request.shared
      ? await sql`select pg_try_advisory_lock_shared(${id}::bigint) as locked`
      : await sql`select pg_try_advisory_lock(${id}::bigint) as locked`;
    return row?.locked === true;
  }
  return waitForLock(sql, id, request);
}

// A server-side wait: the backend is granted the lock the moment it is released. A time limit
// is lock_timeout set with is_local, so it lasts for this one statement only.
async function waitForLock(sql: ReservedSql, id: string, request: LockRequest): Promise<boolean> {
  const limit = String(request.timeoutMs ?? 0);
  const query = request.shared
    ? sql`select pg_advisory_lock_shared(${id}::bigint) from (select set_config('lock_timeout', ${limit}, true)) s`
    : sql`select pg_advisory_lock(${id}::bigint) from (select set_config('lock_timeout', ${limit}, true)) s`;
  const cancel = () => void query.cancel();
  request.signal?.addEventListener('abort', cancel, { once: true });
  try {
    await query;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '55P03') return false;
    if (request.signal?.aborted) throw new LockWaitAbortedError('the wait for the lock was cancelled', { cause: error });
    throw error;
  } finally {
    request.signal?.removeEventListener('abort', cancel);
  }
  return true;
}

/** Release the lock; false when this session did not hold it. */
export async function releaseLock(sql: ReservedSql, id: bigint, shared: boolean): Promise<boolean> {
  const [row] = shared
    ? await sql`select pg_advisory_unlock_shared(${String(id)}::bigint) as released`
    : await sql`select pg_advisory_unlock(${String(id)}::bigint) as released`;
  return row?.released === true;
}

/**
 * Whether pg_locks shows the lock granted to `backendPid`, asked from this statement's own backend.
 * Through a transaction-pooling proxy a later statement may run on another backend: then the
 * backend pid differs and the check fails, which is the point.
 */
export async function isLockHeld(sql: ReservedSql, id: bigint, shared: boolean, backendPid: number): Promise<boolean> {
  const { classid, objid } = lockIdHalves(id);
  const mode = shared ? 'ShareLock' : 'ExclusiveLock';
  const [row] = await sql`
    select exists (
      select 1 from pg_locks
      where locktype = 'advisory' and pid = pg_backend_pid() and pid = ${String(backendPid)}::int
        and classid = ${classid}::oid and objid = ${objid}::oid and objsubid = 1
        and mode = ${mode} and granted
    ) as held`;
  return row?.held === true;
}
