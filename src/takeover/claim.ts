import { lockIdHalves } from '../key/lock-id.js';
import type { SqlClient } from '../sql/client.js';
import { intLiteral } from '../sql/literals.js';
import { type Statement, inline } from '../sql/statement.js';
import { GRANTED_SETTING, grantProof, grantedMark } from '../sql/lock-statements.js';
import { ARMED_CLAIM, NOTHING_AHEAD_CLAIM, CLAIM_FUNCTION, CLAIM_VERSION, CREATE_CLAIM_FUNCTION, CREATE_HOLDERS_LOCK_ID, CREATE_HOLDERS_TABLE, HOLDERS_TABLE } from './objects.js';

/** What a holder records of itself, and how long it waits after a holder that was cut off. */
export interface ClaimRequest {
  id: bigint;
  shared: boolean;
  key: string | undefined;
  host: string;
  pid: number;
  /** How long after losing its session this holder may still run (detection + stop). */
  boundMs: number;
  /** The delay after a cut-off holder: 'auto' (that holder's own bound), or fixed milliseconds (0: none). */
  delay: 'auto' | number;
  /**
   * Write this holder's row (false: a transaction lock, which only honours the others' rows; null: a
   * waiter's call before it queues, which runs every statement and writes nothing).
   */
  record?: boolean | null;
}

/** The outcome of a claim: how long to wait before starting, and who was cut off. */
export interface Claim {
  delayMs: number;
  /** The delayed start, by the database's clock. */
  until: Date;
  /**
   * The start is later than the grant (a delayed start, even one the caller chose not to wait for):
   * the holder's row must outlive a release before it.
   */
  ahead: boolean;
  /**
   * The row is a lock session's, armed: it stays as it is at the release (no write), and the
   * session marks it released later (session/armed.ts). False from a function of an older pglock.
   */
  armed: boolean;
  /** Made by this pglock's claim function (CLAIM_VERSION); false: an older one's. */
  current: boolean;
  /** The holder that was cut off (the one the delay waits for), when there was one. */
  cutOff: { host: string | null; pid: number | null; backendPid: number; grantedAt: Date; boundMs: number } | undefined;
}

/**
 * The claim, as a statement sent right behind the lock statement (in the same round trip): it runs
 * only if this backend holds the lock by then, and yields one row whose `claim` column is the
 * claim's JSON ('' when nothing delays the start: `at` is then the start), or null when the lock
 * is not held. A statement of its own, so it sees the rows committed before the grant.
 *
 * `held`: 'mark', the lock statement left its proven grant in GRANTED_SETTING; 'locks', prove it
 * from pg_locks here. `form`: 'plain' (default), one plain SQL statement for the common case, no
 * earlier holder still to be waited for: it touches few catalog entries, so a new backend pays
 * little for it (about 1.6 ms less than the function's first call, measured), and it calls the
 * function only when an earlier row needs it; 'function', the function alone, whose plans a
 * backend keeps: cheaper from the second call on (a warm lock session).
 */
export function claimStatement(request: ClaimRequest, held: 'mark' | 'locks' = 'locks', form: 'plain' | 'function' = 'plain'): string {
  const claim = claimCallStatement(request);
  if (form === 'function' && held === 'mark') return inline(claim);
  const holds = held === 'mark'
    ? `pg_catalog.current_setting('${GRANTED_SETTING}', true) operator(pg_catalog.=) $4::pg_catalog.text`
    : grantProof('pg_catalog.pg_backend_pid()', request.id, request.shared);
  const text = request.record === false || form === 'function' ? `select case when ${holds} then ${claim.call} end as claim` : plainClaim(holds, claim.call);
  return inline({ text, values: claim.values });
}

/**
 * The function form after a marked grant, its values apart: a warm lock session sends it prepared
 * (statement.ts), so the server neither parses nor plans it again. The values begin as the try's
 * (lock-statements.ts: $1 the id, $2 and $3 its halves, $4 the grant's mark), so that `call` can
 * also go in the try statement itself.
 */
export function claimCallStatement(request: ClaimRequest): Statement & { call: string } {
  const { classid, objid } = lockIdHalves(request.id);
  return {
    text: CLAIM_CALL_TEXT,
    call: CLAIM_CALL,
    values: [request.id, classid, objid, grantedMark(request.id, request.shared), request.key ?? null, request.host, request.pid,
      Math.ceil(request.boundMs), request.delay === 'auto' ? -1 : Math.max(0, Math.ceil(request.delay)), request.record === null ? null : request.record !== false],
  };
}

const CLAIM_CALL = `${CLAIM_FUNCTION}($1::pg_catalog.int8, $2::pg_catalog.oid, $3::pg_catalog.oid, $5::pg_catalog.text, $6::pg_catalog.text, ` +
  '$7::pg_catalog.int4, $8::pg_catalog.int8, $9::pg_catalog.int8, $10::pg_catalog.bool)';
const CLAIM_CALL_TEXT = `select case when pg_catalog.current_setting('${GRANTED_SETTING}', true) operator(pg_catalog.=) $4::pg_catalog.text then ${CLAIM_CALL} end as claim`;

// The common case in plain SQL: the lock's rows are locked (a release still committing is waited
// for, and then read as released or gone); when none is an earlier holder with a bound (cut off, or
// a shared holder alongside) and none has a delayed start still ahead, this holder's row is written
// and the start is now. Otherwise the function decides (it reads pg_locks, computes the delay and
// writes the rows). Earlier rows released with bound 0 (a lock session's: it keeps its row from one
// section to the next) are left for the function to settle: a delete here would be one more table
// access that every new backend plans (about 0.45 ms, measured), for rows that do no harm.
function plainClaim(holds: string, call: string): string {
  const eq = 'operator(pg_catalog.=)';
  const now = 'pg_catalog.statement_timestamp()';
  const me = 'pg_catalog.pg_backend_pid()';
  const id = '$1::pg_catalog.int8';
  return `with held as materialized (select ${holds} as yes),
  prev as materialized (
    select h.backend_pid, h.bound_ms, h.not_before from ${HOLDERS_TABLE} h, held
    where held.yes and h.lock_id ${eq} ${id} for update of h),
  calm as materialized (
    select held.yes, not exists (select from prev p where (p.backend_pid operator(pg_catalog.<>) ${me} and p.bound_ms operator(pg_catalog.<>) 0) or p.not_before operator(pg_catalog.>) ${now}) as ok
    from held),
  mine as (
    insert into ${HOLDERS_TABLE} as h (lock_id, backend_pid, key, host, pid, granted_at, bound_ms, not_before)
    select ${id}, ${me}, $5::pg_catalog.text, $6::pg_catalog.text, $7::pg_catalog.int4, ${now}, $8::pg_catalog.int8, ${now} from calm c where c.yes and c.ok
    on conflict (lock_id, backend_pid) do update set key = excluded.key, host = excluded.host, pid = excluded.pid,
      granted_at = excluded.granted_at, bound_ms = excluded.bound_ms, not_before = excluded.not_before)
select case when not c.yes then null when c.ok then '' else ${call} end as claim, ${now} as at from calm c`;
}

/**
 * What a waiter sends before its lock statement, in the same round trip: the claim function called
 * without writing anything (record null), so that the backend has compiled it and planned its
 * statements when the grant comes, and the claim after the grant costs a handover little. Its
 * outcome is no matter (nor its error: the record not there yet).
 */
export function primeStatement(request: ClaimRequest): string {
  const claim = claimCallStatement({ ...request, record: null });
  return inline({ text: `select ${claim.call}`, values: claim.values });
}

/** The claim function's signature, for to_regprocedure and grants. */
export const CLAIM_SIGNATURE = `${CLAIM_FUNCTION}(bigint, oid, oid, text, text, integer, bigint, bigint, boolean)`;

/**
 * A read-only claim inside a transaction that must not fail (the application's own, for a
 * transaction lock): a DO block calls the function only if it exists and this role may use it, and
 * leaves its JSON in a transaction-local setting; read it with `readClaimSetting`. Sent behind the
 * lock statement, in the same round trip.
 */
export function claimInTransactionStatements(request: ClaimRequest): string {
  const call = claimStatement({ ...request, record: false }, 'mark', 'function');
  const usable = `pg_catalog.to_regprocedure('${CLAIM_SIGNATURE}') is not null and pg_catalog.has_function_privilege('${CLAIM_SIGNATURE}', 'execute') ` +
    `and pg_catalog.to_regclass('${HOLDERS_TABLE}') is not null and pg_catalog.has_table_privilege('${HOLDERS_TABLE}', 'select')`;
  return `do $pglock$ begin if ${usable} then perform pg_catalog.set_config('pglock.claim', coalesce((${call}), ''), true); ` +
    `else perform pg_catalog.set_config('pglock.claim', '${RECORD_UNUSABLE}', true); end if; end $pglock$; ` +
    `select pg_catalog.current_setting('pglock.claim', true) as claim`;
}

/** What claimInTransactionStatements reads when the record is not there or this role may not use it. */
export const RECORD_UNUSABLE = '-';

/** The claim statement's outcome: a Claim, or undefined when the lock was not held. */
export function parseClaim(rows: readonly { claim?: string | null; at?: Date | string | null }[]): Claim | undefined {
  const text = rows[0]?.claim;
  if (typeof text !== 'string') return undefined;
  if (text === '') return { delayMs: 0, until: new Date(rows[0]?.at ?? Date.now()), ahead: false, armed: false, current: true, cutOff: undefined };
  // A warm lock session's section, every time: nothing to read but that it starts now.
  if (text === ARMED_CLAIM) return { delayMs: 0, until: new Date(), ahead: false, armed: true, current: true, cutOff: undefined };
  // A transaction lock's, with no row to honour.
  if (text === NOTHING_AHEAD_CLAIM) return { delayMs: 0, until: new Date(), ahead: false, armed: false, current: true, cutOff: undefined };
  const raw = JSON.parse(text) as { delayMs: number; until?: string; ahead?: boolean; armed?: boolean; version?: number; cutHost: string | null; cutPid: number | null; cutBackendPid: number | null; cutGrantedAt: string | null; cutBoundMs: number | null };
  return {
    delayMs: Number(raw.delayMs),
    // A warm lock session's section ({"delayMs": 0, "armed": true, "version": 3}) starts at once.
    until: raw.until === undefined ? new Date() : new Date(raw.until),
    // A function created by an older pglock does not say: keep the row, as that pglock did.
    ahead: raw.ahead !== false,
    armed: raw.armed === true,
    current: raw.version === CLAIM_VERSION,
    cutOff: raw.cutBackendPid == null ? undefined : {
      host: raw.cutHost, pid: raw.cutPid, backendPid: raw.cutBackendPid, grantedAt: new Date(raw.cutGrantedAt ?? raw.until ?? Date.now()), boundMs: Number(raw.cutBoundMs),
    },
  };
}

/** True for the errors that say the record's objects are not there yet (or not usable by this role). */
export function isMissingRecord(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '42883' || code === '42P01' || code === '3F000';
}

/**
 * Create the table and the function (idempotent, serialized between pglock processes). A lock the
 * statements need and cannot have within INSTALL_LOCK_TIMEOUT (the table's, to add a column an older
 * pglock's table lacks, while long transactions read it) fails them (55P03) rather than stall every
 * claim queued behind: the callers go on without the record, or with the function they had.
 */
export async function installRecord(sql: SqlClient): Promise<void> {
  // One simple-protocol string is one implicit transaction: the xact lock lasts until both exist,
  // and the lock timeout (set after the xact lock: another pglock's creation is waited for) ends with it.
  await sql.unsafe(`select pg_catalog.pg_advisory_xact_lock(${intLiteral(CREATE_HOLDERS_LOCK_ID)}::pg_catalog.int8); ` +
    `select pg_catalog.set_config('lock_timeout', '${INSTALL_LOCK_TIMEOUT}', true); ${CREATE_HOLDERS_TABLE}; ${CREATE_CLAIM_FUNCTION}`);
}

/** How long installRecord waits for a lock on pglock's objects. */
export const INSTALL_LOCK_TIMEOUT = '2s';

/**
 * What a clean release runs before its unlock, in the same round trip and transaction: the holder's
 * row marked released (bound 0), `keep`; or deleted, for a connection about to close whose start
 * was not delayed (its row would only be left behind). A row kept keeps its delayed start, which the
 * next holder still honours. A holder granted the lock by the unlock locks the row in its claim, so
 * it waits for this commit and reads the row as released or gone. Without `durable`, the commit does
 * not wait for a flush: a row that a crash brings back as held only makes the next holder wait once.
 * `backendPid`: the row of that backend rather than of the one that runs the statement: a grant given
 * up through a pooler before anything ran under it (lock/prove.ts), whose statements land wherever
 * the pooler sends them.
 */
export function settleStatement(id: bigint, { durable = false, keep = true, backendPid }: { durable?: boolean; keep?: boolean; backendPid?: number } = {}): Statement {
  const backend = backendPid === undefined ? 'pg_catalog.pg_backend_pid()' : `${intLiteral(backendPid)}::pg_catalog.int4`;
  const mine = `h.lock_id operator(pg_catalog.=) $1::pg_catalog.int8 and h.backend_pid operator(pg_catalog.=) ${backend}`;
  // set_config with is_local in the statement itself: one statement less to parse and plan.
  const async = durable ? '' : " and pg_catalog.set_config('synchronous_commit', 'off', true) is not null";
  return { text: `${keep ? `update ${HOLDERS_TABLE} h set bound_ms = 0` : `delete from ${HOLDERS_TABLE} h`} where ${mine}${async}`, values: [id] };
}

