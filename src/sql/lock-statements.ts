import type { ReservedSql } from '../connection/index.js';
import type { SqlClient } from './client.js';
import { lockIdHalves } from '../key/lock-id.js';
import { LockWaitAbortedError } from '../errors.js';
import { intLiteral } from './literals.js';

// The advisory-lock statements pglock sends: one round trip each (see literals.ts). Every function,
// relation and operator is schema-qualified (pg_catalog), so that a role's search_path cannot
// redirect a call; and every grant is proven from pg_locks in the statement that took it, so that
// a server whose advisory-lock functions answer without locking cannot make pglock run the command.

/** One lock statement: which lock, how, and at what level. */
export interface LockStatement {
  id: bigint;
  shared: boolean;
  /** Wait for the lock (server-side) instead of failing fast. */
  wait: boolean;
  /** With wait: give up after this many milliseconds (lock_timeout, scoped to the one statement). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * 'session' (default): a session lock. 'transaction': pg_advisory_xact_lock in the transaction
   * the caller has open (withTransactionLock). 'held-transaction': in a transaction begun here and
   * kept open, for a transaction-mode pooler: its own timeouts off; ended by releaseLock's commit;
   * not granted, it is rolled back.
   */
  level?: 'session' | 'transaction' | 'held-transaction';
}

/** The outcome of a lock statement, with the pid of the backend that ran it. */
export interface LockResult {
  granted: boolean;
  backendPid: number | undefined;
  /** Granted, and pg_locks showed the lock granted to that backend in the same statement. */
  proven: boolean;
}

/**
 * Try or wait for the lock. Not granted: busy, or the wait timed out. The lock statement is sent
 * before this returns (execute()), so a statement the caller sends next runs after it, in the same
 * round trip (pipelined).
 */
export async function takeLock(sql: SqlClient, statement: LockStatement): Promise<LockResult> {
  const level = statement.level ?? 'session';
  if (level === 'held-transaction') return takeInHeldTransaction(sql, statement);
  const xact = level === 'transaction';
  if (!statement.wait || statement.timeoutMs === 0) return tryOnce(sql, statement, xact ? 'pg_try_advisory_xact_lock' : 'pg_try_advisory_lock');
  return waitForLock(sql, statement, xact ? 'pg_advisory_xact_lock' : 'pg_advisory_lock');
}

// A transaction-level lock leaves its mark for the transaction only (is_local): the application's
// pooled connection keeps nothing of pglock's after it.
async function tryOnce(sql: SqlClient, statement: LockStatement, fn: 'pg_try_advisory_lock' | 'pg_try_advisory_xact_lock'): Promise<LockResult> {
  const local = fn === 'pg_try_advisory_xact_lock';
  const [row] = await sql.unsafe<{ locked: boolean; pid: number; proven: boolean }[]>(`
    select s.locked, s.pid, case when s.locked then ${provenAndMarked('s.pid', statement.id, statement.shared, local)} else ${clearMark(local)} end as proven
    from (select ${lockCall(fn, statement.id, statement.shared)} as locked, pg_catalog.pg_backend_pid() as pid offset 0) s`).execute();
  return { granted: row?.locked === true, backendPid: row?.pid, proven: row?.proven === true };
}

/** The SQL call that tries the lock without waiting, for use inside a larger statement. */
export function tryLockCall(id: bigint, shared: boolean): string {
  return lockCall('pg_try_advisory_lock', id, shared);
}

/** `pg_advisory_lock(id)` and its kin (session or transaction level), for one bigint id, shared or not. */
export function lockCall(fn: 'pg_try_advisory_lock' | 'pg_advisory_lock' | 'pg_advisory_unlock' | 'pg_try_advisory_xact_lock' | 'pg_advisory_xact_lock', id: bigint, shared = false): string {
  return `pg_catalog.${fn}${shared ? '_shared' : ''}(${intLiteral(id)}::pg_catalog.int8)`;
}

/** The session setting in which a lock statement leaves which lock it was just granted and proved. */
export const GRANTED_SETTING = 'pglock.granted';

/** What GRANTED_SETTING holds after a proven grant of this lock. */
export function grantedMark(id: bigint, shared: boolean): string {
  return `${id}${shared ? 's' : 'x'}`;
}

/**
 * grantProof, and the proof's outcome left in the session setting GRANTED_SETTING (the lock's mark,
 * or '' when not proven), so that a statement sent right behind the lock statement (the holder's
 * claim) knows the grant without reading pg_locks again (a scan of the server's whole lock table,
 * the dearest part of a lock statement). Session-level, and transactional: an error undoes it.
 */
export function provenAndMarked(pidSql: string, id: bigint, shared: boolean, local = false): string {
  const mark = grantedMark(id, shared);
  return `pg_catalog.set_config('${GRANTED_SETTING}', case when ${grantProof(pidSql, id, shared)} then '${mark}' else '' end, ${local}) operator(pg_catalog.=) '${mark}'`;
}

/** SQL that clears GRANTED_SETTING (false): a lock statement that was not granted. */
export function clearMark(local = false): string {
  return `pg_catalog.set_config('${GRANTED_SETTING}', '', ${local}) is null`;
}

/**
 * SQL that is true when pg_locks shows the advisory lock `id` granted to the backend `pidSql` (an
 * expression of the outer query, which makes this a subquery run after the lock call of that row).
 */
export function grantProof(pidSql: string, id: bigint, shared: boolean): string {
  const { classid, objid } = lockIdHalves(id);
  const eq = 'operator(pg_catalog.=)';
  return `exists (select from pg_catalog.pg_locks l
      where l.locktype ${eq} 'advisory' and l.pid ${eq} ${pidSql} and l.classid ${eq} '${classid}'::pg_catalog.oid
        and l.objid ${eq} '${objid}'::pg_catalog.oid and l.objsubid ${eq} 1 and l.mode ${eq} '${shared ? 'ShareLock' : 'ExclusiveLock'}' and l.granted)`;
}

// The transaction that holds a lock for a transaction-mode pooler: begun here, its statement,
// lock and idle-in-transaction timeouts off (set locally: nothing leaks to the pooled server
// connection after it), the lock tried or waited for and proven in the same statement. A
// READ COMMITTED transaction that only reads holds no snapshot and no transaction id between
// statements, so it does not hold back vacuum (tested with pg_stat_activity).
async function takeInHeldTransaction(sql: SqlClient, statement: LockStatement): Promise<LockResult> {
  const off = ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout'].map((name) => `pg_catalog.set_config('${name}', '0', true)`).join(', ');
  await sql.unsafe(`begin isolation level read committed; select ${off}`);
  try {
    const result = await takeLock(sql, { ...statement, level: 'transaction' });
    if (!result.granted) await sql.unsafe('rollback');
    return result;
  } catch (error) {
    await sql.unsafe('rollback').catch(() => undefined);
    throw error;
  }
}

// A server-side wait: the backend is granted the lock the moment it is released. A time limit is
// lock_timeout set with is_local for the lock call and put back right after it in the same
// statement: outside a transaction block that is this one statement anyway; inside one (a
// transaction lock), the transaction's own later statements must not inherit it.
async function waitForLock(sql: SqlClient, statement: LockStatement, fn: 'pg_advisory_lock' | 'pg_advisory_xact_lock'): Promise<LockResult> {
  const lock = lockCall(fn, statement.id, statement.shared);
  const limit = intLiteral(Math.ceil(statement.timeoutMs ?? 0));
  const query = sql.unsafe<{ pid: number; proven: boolean }[]>(`
    select w.pid, ${provenAndMarked('w.pid', statement.id, statement.shared, fn === 'pg_advisory_xact_lock')} as proven from (
      select ${lock}, pg_catalog.pg_backend_pid() as pid, pg_catalog.set_config('lock_timeout', p.previous, true)
      from (select pg_catalog.current_setting('lock_timeout') as previous, pg_catalog.set_config('lock_timeout', '${limit}', true) offset 0) p
      offset 0
    ) w`).execute();
  // On abort, cancel the statement on the server; the wait then ends with 57014 and nothing stays
  // queued. Not query.cancel(): postgres.js 3.4.9 drops the promise of its cancel request there
  // (`this.canceller(this), this.canceller = null`), so a cancel request that cannot connect (a
  // server restarting, a network cut) rejects unhandled and kills the process with a stack trace.
  // Call the canceller ourselves; when the request cannot be sent, stop waiting for an answer that
  // will not come: the caller closes the session, which ends the wait on the server too.
  let giveUp = () => {};
  const abandoned = new Promise<never>((_, reject) => (giveUp = () => reject(new LockWaitAbortedError('the wait for the lock was cancelled'))));
  abandoned.catch(() => undefined);
  const abort = () => {
    const pending = query as unknown as { canceller?: ((q: unknown) => Promise<void>) | null };
    const canceller = pending.canceller;
    pending.canceller = null;
    Promise.resolve(canceller?.(query)).catch(giveUp);
  };
  statement.signal?.addEventListener('abort', abort, { once: true });
  try {
    const [row] = await Promise.race([query, abandoned]);
    return { granted: true, backendPid: row?.pid, proven: row?.proven === true };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '55P03') return { granted: false, backendPid: undefined, proven: false };
    if (error instanceof LockWaitAbortedError) throw error;
    if (statement.signal?.aborted) throw new LockWaitAbortedError('the wait for the lock was cancelled', { cause: error });
    throw error;
  } finally {
    statement.signal?.removeEventListener('abort', abort);
  }
}

/** How a pglock heartbeat statement starts, followed by an ISO time and ` *\/`. */
export const HELD_SINCE_COMMENT = '/* pglock held-since ';

/**
 * Release the lock; false when this session did not hold it. `first`: statements to run just
 * before the unlock, in the same round trip but a transaction of their own, committed before the
 * unlock runs (the holder record's release mark, the run record's end): the next holder, granted
 * by the unlock, reads them committed and never waits for them. Its error is thrown once the
 * unlock is done.
 */
export async function releaseLock(sql: ReservedSql, id: bigint, shared: boolean, first?: string, transaction = false): Promise<boolean> {
  // A transaction's lock ends with it: commit (it wrote nothing).
  if (transaction) {
    await sql.unsafe(first === undefined ? 'commit' : `${first}; commit`);
    return true;
  }
  const before = first === undefined ? undefined : sql.unsafe(first).execute().then(() => undefined, (error: unknown) => error);
  const [row] = await sql.unsafe<{ released: boolean }[]>(`select ${lockCall('pg_advisory_unlock', id, shared)} as released`);
  const failed = await before;
  if (failed !== undefined) throw failed;
  return row?.released === true;
}

/**
 * Whether pg_locks shows the lock granted to `backendPid`, asked from this statement's own backend.
 * Through a transaction-pooling proxy a later statement may run on another backend: then the
 * backend pid differs and the check fails, which is the point.
 */
export async function isLockHeld(sql: ReservedSql, id: bigint, shared: boolean, backendPid: number, heldSince?: Date): Promise<boolean> {
  // pg_stat_activity shows an idle session's last statement: the comment tells `pglock status`
  // since when this session has held the lock (PostgreSQL itself does not record it).
  const since = heldSince === undefined ? '' : `${HELD_SINCE_COMMENT}${heldSince.toISOString()} */`;
  const [row] = await sql.unsafe<{ held: boolean }[]>(`${since}
    select s.pid operator(pg_catalog.=) ${intLiteral(backendPid)} and ${grantProof('s.pid', id, shared)} as held
    from (select pg_catalog.pg_backend_pid() as pid) s`);
  return row?.held === true;
}
