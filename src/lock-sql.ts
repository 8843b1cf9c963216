import type { ReservedSql } from './connect.js';
import { lockIdHalves } from './lock-id.js';
import { LockWaitAbortedError } from './errors.js';
import { intLiteral } from './sql-int.js';

// The advisory-lock statements pglock sends: one round trip each (see sql-int.ts).

export interface LockRequest {
  id: bigint;
  shared: boolean;
  /** Wait for the lock (server-side) instead of failing fast. */
  wait: boolean;
  /** With wait: give up after this many milliseconds (lock_timeout, scoped to the one statement). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The outcome of a lock statement, with the pid of the backend that ran it. */
export interface LockResult {
  granted: boolean;
  backendPid: number | undefined;
}

/** Try or wait for the lock on this session. Not granted: busy, or the wait timed out. */
export async function takeLock(sql: ReservedSql, request: LockRequest): Promise<LockResult> {
  if (!request.wait || request.timeoutMs === 0) {
    const [row] = await sql.unsafe<{ locked: boolean; pid: number }[]>(`select ${tryLockCall(request.id, request.shared)} as locked, pg_backend_pid() as pid`);
    return { granted: row?.locked === true, backendPid: row?.pid };
  }
  return waitForLock(sql, request);
}

/** The SQL call that tries the lock without waiting, for use inside a larger statement. */
export function tryLockCall(id: bigint, shared: boolean): string {
  return lockCall('pg_try_advisory_lock', id, shared);
}

/** `pg_advisory_lock(id)` and its kin, session level, for one bigint id, shared or not. */
export function lockCall(fn: 'pg_try_advisory_lock' | 'pg_advisory_lock' | 'pg_advisory_unlock', id: bigint, shared = false): string {
  return `${fn}${shared ? '_shared' : ''}(${intLiteral(id)}::bigint)`;
}

// A server-side wait: the backend is granted the lock the moment it is released. A time limit
// is lock_timeout set with is_local, so it lasts for this one statement only.
async function waitForLock(sql: ReservedSql, request: LockRequest): Promise<LockResult> {
  const lock = lockCall('pg_advisory_lock', request.id, request.shared);
  const limit = intLiteral(Math.ceil(request.timeoutMs ?? 0));
  const query = sql.unsafe<{ pid: number }[]>(`select ${lock}, pg_backend_pid() as pid from (select set_config('lock_timeout', '${limit}', true)) s`);
  const cancel = () => void query.cancel();
  request.signal?.addEventListener('abort', cancel, { once: true });
  try {
    const [row] = await query;
    return { granted: true, backendPid: row?.pid };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '55P03') return { granted: false, backendPid: undefined };
    if (request.signal?.aborted) throw new LockWaitAbortedError('the wait for the lock was cancelled', { cause: error });
    throw error;
  } finally {
    request.signal?.removeEventListener('abort', cancel);
  }
}

/** How a pglock heartbeat statement starts, followed by an ISO time and ` *\/`. */
export const HELD_SINCE_COMMENT = '/* pglock held-since ';

/** Release the lock; false when this session did not hold it. */
export async function releaseLock(sql: ReservedSql, id: bigint, shared: boolean): Promise<boolean> {
  const [row] = await sql.unsafe<{ released: boolean }[]>(`select ${lockCall('pg_advisory_unlock', id, shared)} as released`);
  return row?.released === true;
}

/**
 * Whether pg_locks shows the lock granted to `backendPid`, asked from this statement's own backend.
 * Through a transaction-pooling proxy a later statement may run on another backend: then the
 * backend pid differs and the check fails, which is the point.
 */
export async function isLockHeld(sql: ReservedSql, id: bigint, shared: boolean, backendPid: number, heldSince?: Date): Promise<boolean> {
  const { classid, objid } = lockIdHalves(id);
  const mode = shared ? 'ShareLock' : 'ExclusiveLock';
  // pg_stat_activity shows an idle session's last statement: the comment tells `pglock status`
  // since when this session has held the lock (PostgreSQL itself does not record it).
  const since = heldSince === undefined ? '' : `${HELD_SINCE_COMMENT}${heldSince.toISOString()} */`;
  const [row] = await sql.unsafe<{ held: boolean }[]>(`${since}
    select exists (
      select 1 from pg_locks
      where locktype = 'advisory' and pid = pg_backend_pid() and pid = ${intLiteral(backendPid)}
        and classid = ${intLiteral(BigInt(classid))} and objid = ${intLiteral(BigInt(objid))} and objsubid = 1
        and mode = '${mode}' and granted
    ) as held`);
  return row?.held === true;
}
