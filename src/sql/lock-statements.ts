import type { ReservedSql } from '../connection/index.js';
import type { SqlClient } from './client.js';
import { lockIdHalves } from '../key/lock-id.js';
import { LockWaitAbortedError } from '../errors.js';
import { intLiteral } from './literals.js';
import { type Statement, type StatementValue, inline as inlineOf, send } from './statement.js';

// The advisory-lock statements pglock sends: one round trip each (see literals.ts). Every function,
// relation and operator is schema-qualified (pg_catalog), so that a role's search_path cannot
// redirect a call; and every grant is proven from pg_locks in the statement that took it (on a warm
// connection, the first on each backend: provenPids), so that a server whose advisory-lock functions
// answer without locking cannot make pglock run the command.

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
  /** A fail-fast try sent as a prepared statement (a warm connection: statement.ts). */
  prepared?: boolean;
  /**
   * A fail-fast try on a warm connection: the backends that have already shown a grant in pg_locks.
   * On one of them the try does not read pg_locks again (a scan of the server's whole lock table,
   * which grows with max_connections): its grant is the answer of an implementation shown to lock.
   * Elsewhere, and for a wait, every grant is proven.
   */
  provenPids?: readonly number[];
  /**
   * With `follow`, on a direct connection (no pooler) whose backend has shown a grant already: the try
   * is not proven again, not even by the list of `provenPids` (its `proven` is its grant), and the
   * caller checks that the pid it returns is that backend's. A warm lock session's every section.
   */
  backendProven?: boolean;
  /**
   * A session lock's follow-up: an expression evaluated in the lock statement itself once the grant
   * is proven (the holder's claim), its value returned as `follow`. `values`: the statement's, whose
   * first four are a try's own ($1 the id, $2 and $3 its halves, $4 the grant's mark).
   */
  follow?: { sql: string; values: readonly StatementValue[] };
}

/** The outcome of a lock statement, with the pid of the backend that ran it. */
export interface LockResult {
  granted: boolean;
  backendPid: number | undefined;
  /** Granted, and pg_locks showed the lock granted to that backend in the same statement. */
  proven: boolean;
  /** With `follow`: its value (null when not proven). */
  follow?: unknown;
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
  const [row] = await send<{ locked: boolean; pid: number; proven: boolean; follow?: unknown }[]>(sql, tryStatement(statement, fn), statement.prepared === true);
  const result: LockResult = { granted: row?.locked === true, backendPid: row?.pid, proven: row?.proven === true };
  if (statement.follow) result.follow = row?.follow ?? null;
  return result;
}

function tryStatement(statement: LockStatement, fn: 'pg_try_advisory_lock' | 'pg_try_advisory_xact_lock'): Statement {
  const { follow, shared } = statement;
  const kind = (fn === 'pg_try_advisory_lock' ? 0 : 1) + (shared ? 2 : 0);
  if (follow !== undefined && statement.backendProven === true) {
    return { text: textOf(follow.sql, kind, () => provenTryText(fn, shared, follow.sql)), values: follow.values };
  }
  const { classid, objid } = lockIdHalves(statement.id);
  const values: StatementValue[] = follow === undefined ? [statement.id, classid, objid, grantedMark(statement.id, shared)] : [...follow.values];
  // The list as text ('{pid,...}'), one parameter after the others.
  if (statement.provenPids !== undefined) values.push(`{${statement.provenPids.map((pid) => intLiteral(pid)).join(',')}}`);
  const provenAt = statement.provenPids === undefined ? 0 : values.length;
  return { text: textOf(follow?.sql ?? '', kind + 4 * (provenAt + 1), () => tryText(fn, shared, provenAt, follow?.sql)), values };
}

// The try's text depends on its form alone, never on a value: made once per form, and then the same
// string each time (a warm lock session's prepared statement is looked up by its text). Keyed by the
// follow-up (a constant string, whose hash V8 keeps), then by the rest of the form.
const texts = new Map<string, (string | undefined)[]>();

function textOf(follow: string, form: number, make: () => string): string {
  let forms = texts.get(follow);
  if (forms === undefined) {
    if (texts.size >= 16) texts.clear();
    texts.set(follow, (forms = []));
  }
  return (forms[form] ??= make());
}

// The try on a backend known to lock, with its follow-up: the try and the backend's pid, then the
// follow-up once granted. $4, the grant's mark, is never null (every $n of a prepared statement must
// be used).
function provenTryText(fn: 'pg_try_advisory_lock' | 'pg_try_advisory_xact_lock', shared: boolean, follow: string): string {
  return `select s.locked, s.pid, s.locked and $4::pg_catalog.text is not null as proven, case when s.locked then ${follow} end as follow
    from (select pg_catalog.${fn}${shared ? '_shared' : ''}($1::pg_catalog.int8) as locked, pg_catalog.pg_backend_pid() as pid offset 0) s`;
}

// The try, its grant proven (provenAt: the parameter of the list of backends proven already, which
// skip the proof; 0: none), and its follow-up when there is one.
function tryText(fn: 'pg_try_advisory_lock' | 'pg_try_advisory_xact_lock', shared: boolean, provenAt: number, follow: string | undefined): string {
  const local = fn === 'pg_try_advisory_xact_lock';
  let proof = grantProofOf('s.pid', '$2::pg_catalog.oid', '$3::pg_catalog.oid', shared);
  // A CASE runs the scan only on a backend not shown to lock yet.
  if (provenAt > 0) proof = `case when s.pid operator(pg_catalog.=) any ($${provenAt}::pg_catalog.text::pg_catalog.int4[]) then true else ${proof} end`;
  // The grant's mark is for a claim sent as a statement of its own; a follow-up reads the proof here
  // (not granted: false, from the mark, which is never null: a prepared statement's every $n must be used).
  const proven = follow === undefined ? `case when s.locked then ${markedOf(proof, '$4::pg_catalog.text', local)} else ${clearMark(local)} end`
    : `case when s.locked then ${proof} else $4::pg_catalog.text is null end`;
  const text = `select s.locked, s.pid, ${proven} as proven
    from (select pg_catalog.${fn}${shared ? '_shared' : ''}($1::pg_catalog.int8) as locked, pg_catalog.pg_backend_pid() as pid offset 0) s`;
  // offset 0: the inner statement (the try and its proof) is made before the follow-up runs.
  return follow === undefined ? text : `select t.*, case when t.proven then ${follow} end as follow from (${text} offset 0) t`;
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
  return markedOf(grantProof(pidSql, id, shared), `'${grantedMark(id, shared)}'`, local);
}

// GRANTED_SETTING set to `markSql` when `proofSql` holds (else ''), and true when it did.
function markedOf(proofSql: string, markSql: string, local: boolean): string {
  return `pg_catalog.set_config('${GRANTED_SETTING}', case when ${proofSql} then ${markSql} else '' end, ${local}) operator(pg_catalog.=) ${markSql}`;
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
  return grantProofOf(pidSql, `'${classid}'::pg_catalog.oid`, `'${objid}'::pg_catalog.oid`, shared);
}

function grantProofOf(pidSql: string, classidSql: string, objidSql: string, shared: boolean): string {
  const eq = 'operator(pg_catalog.=)';
  return `exists (select from pg_catalog.pg_locks l
      where l.locktype ${eq} 'advisory' and l.pid ${eq} ${pidSql} and l.classid ${eq} ${classidSql}
        and l.objid ${eq} ${objidSql} and l.objsubid ${eq} 1 and l.mode ${eq} '${shared ? 'ShareLock' : 'ExclusiveLock'}' and l.granted)`;
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
  const text = `
    select w.pid, ${provenAndMarked('w.pid', statement.id, statement.shared, fn === 'pg_advisory_xact_lock')} as proven from (
      select ${lock}, pg_catalog.pg_backend_pid() as pid, pg_catalog.set_config('lock_timeout', p.previous, true)
      from (select pg_catalog.current_setting('lock_timeout') as previous, pg_catalog.set_config('lock_timeout', '${limit}', true) offset 0) p
      offset 0
    ) w`;
  // With a follow-up, it runs in this statement the moment the grant is proven.
  const query = sql.unsafe<{ pid: number; proven: boolean; follow?: unknown }[]>(statement.follow === undefined ? text
    : inlineOf({ text: `select t.*, case when t.proven then ${statement.follow.sql} end as follow from (${text} offset 0) t`, values: statement.follow.values })).execute();
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
    return { granted: true, backendPid: row?.pid, proven: row?.proven === true, ...(statement.follow ? { follow: row?.follow ?? null } : {}) };
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
 * Release the lock; false when this session did not hold it. `first`: what to run just before the
 * unlock, in the same round trip. Text (the holder record's release mark, the run record's end):
 * statements in a transaction of their own, committed before the unlock runs, so that the next
 * holder, granted by the unlock, reads them committed; their error is thrown once the unlock is
 * done. A Statement: one data-modifying statement whose $1 is the lock id, run in the unlock's own
 * statement just before the unlock (one statement less for a warm lock session, `prepared`).
 */
export async function releaseLock(sql: ReservedSql, id: bigint, shared: boolean, first?: string | Statement, transaction = false, prepared = false): Promise<boolean> {
  // A transaction's lock ends with it: commit (it wrote nothing).
  if (transaction) {
    await sql.unsafe(first === undefined ? 'commit' : `${typeof first === 'string' ? first : inlineOf(first)}; commit`);
    return true;
  }
  const before = typeof first === 'string' ? sql.unsafe(first).execute().then(() => undefined, (error: unknown) => error) : undefined;
  const call = `pg_catalog.pg_advisory_unlock${shared ? '_shared' : ''}($1::pg_catalog.int8)`;
  // The aggregate reads the whole of `first` before the outer row, and so the unlock, is made.
  const unlock = typeof first === 'object'
    ? { text: `with first as (${first.text} returning 1) select ${call} as released from (select pg_catalog.count(*) from first) x`, values: [id] }
    : { text: `select ${call} as released`, values: [id] };
  const [row] = await send<{ released: boolean }[]>(sql, unlock, prepared);
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
