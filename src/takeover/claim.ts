import { lockIdHalves } from '../key/lock-id.js';
import type { SqlClient } from '../sql/client.js';
import { intLiteral, textLiteral } from '../sql/literals.js';
import { GRANTED_SETTING, grantProof, grantedMark } from '../sql/lock-statements.js';
import { CLAIM_FUNCTION, CREATE_CLAIM_FUNCTION, CREATE_HOLDERS_LOCK_ID, CREATE_HOLDERS_TABLE, HOLDERS_TABLE } from './objects.js';

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
  /** Write this holder's row (false: a transaction lock, which only honours the others' rows). */
  record?: boolean;
}

/** The outcome of a claim: how long to wait before starting, and who was cut off. */
export interface Claim {
  delayMs: number;
  /** The delayed start, by the database's clock. */
  until: Date;
  /** The holder that was cut off (the one the delay waits for), when there was one. */
  cutOff: { host: string | null; pid: number | null; backendPid: number; grantedAt: Date; boundMs: number } | undefined;
}

/**
 * The claim, as a statement sent right behind the lock statement (in the same round trip): it runs
 * only if this backend holds the lock by then, and yields one row whose `claim` column is the
 * claim's JSON, or null when the lock is not held. A statement of its own, so it sees the rows
 * committed before the grant.
 */
export function claimStatement(request: ClaimRequest, held: 'mark' | 'locks' = 'locks'): string {
  const { classid, objid } = lockIdHalves(request.id);
  const delay = request.delay === 'auto' ? -1 : Math.max(0, Math.ceil(request.delay));
  const call = `${CLAIM_FUNCTION}(${intLiteral(request.id)}::pg_catalog.int8, '${classid}'::pg_catalog.oid, '${objid}'::pg_catalog.oid, ` +
    `${request.key === undefined ? 'null' : textLiteral(request.key)}, ${textLiteral(request.host)}, ${intLiteral(request.pid)}, ` +
    `${intLiteral(Math.ceil(request.boundMs))}, ${intLiteral(delay)}, ${request.record === false ? 'false' : 'true'})`;
  const holds = held === 'mark'
    ? `pg_catalog.current_setting('${GRANTED_SETTING}', true) operator(pg_catalog.=) '${grantedMark(request.id, request.shared)}'`
    : grantProof('pg_catalog.pg_backend_pid()', request.id, request.shared);
  return `select case when ${holds} then ${call} end as claim`;
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
  const call = claimStatement({ ...request, record: false }, 'mark');
  const usable = `pg_catalog.to_regprocedure('${CLAIM_SIGNATURE}') is not null and pg_catalog.has_function_privilege('${CLAIM_SIGNATURE}', 'execute') ` +
    `and pg_catalog.to_regclass('${HOLDERS_TABLE}') is not null and pg_catalog.has_table_privilege('${HOLDERS_TABLE}', 'select')`;
  return `do $pglock$ begin if ${usable} then perform pg_catalog.set_config('pglock.claim', coalesce((${call}), ''), true); end if; end $pglock$; ` +
    `select nullif(pg_catalog.current_setting('pglock.claim', true), '') as claim`;
}

/** The claim statement's outcome: a Claim, or undefined when the lock was not held. */
export function parseClaim(rows: readonly { claim?: string | null }[]): Claim | undefined {
  const text = rows[0]?.claim;
  if (typeof text !== 'string') return undefined;
  const raw = JSON.parse(text) as { delayMs: number; until: string; cutHost: string | null; cutPid: number | null; cutBackendPid: number | null; cutGrantedAt: string | null; cutBoundMs: number | null };
  return {
    delayMs: Number(raw.delayMs),
    until: new Date(raw.until),
    cutOff: raw.cutBackendPid == null ? undefined : {
      host: raw.cutHost, pid: raw.cutPid, backendPid: raw.cutBackendPid, grantedAt: new Date(raw.cutGrantedAt ?? raw.until), boundMs: Number(raw.cutBoundMs),
    },
  };
}

/** True for the errors that say the record's objects are not there yet (or not usable by this role). */
export function isMissingRecord(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '42883' || code === '42P01' || code === '3F000';
}

/** Create the table and the function (idempotent, serialized between pglock processes). */
export async function installRecord(sql: SqlClient): Promise<void> {
  // One simple-protocol string is one implicit transaction: the xact lock lasts until both exist.
  await sql.unsafe(`select pg_catalog.pg_advisory_xact_lock(${intLiteral(CREATE_HOLDERS_LOCK_ID)}::pg_catalog.int8); ${CREATE_HOLDERS_TABLE}; ${CREATE_CLAIM_FUNCTION}`);
}

/**
 * What a clean release runs before its unlock, in the same round trip and transaction: the holder's
 * row marked released (bound 0; a delayed start it had taken over still stands). A holder granted
 * the lock by the unlock locks the row in its claim, so it waits for this commit and reads the row
 * as released. Without `durable`, the commit does not wait for a flush: a row that a crash brings
 * back as held only makes the next holder wait once.
 */
export function settleStatement(id: bigint, durable = false): string {
  const mine = `h.lock_id operator(pg_catalog.=) ${intLiteral(id)} and h.backend_pid operator(pg_catalog.=) pg_catalog.pg_backend_pid()`;
  return `${durable ? '' : "select pg_catalog.set_config('synchronous_commit', 'off', true); "}update ${HOLDERS_TABLE} h set bound_ms = 0 where ${mine}`;
}
