import type { SqlClient } from './client.js';
import { formatDuration } from '../duration.js';
import { RUNS_TABLE_NAME } from '../runs/index.js';
import { HOLDERS_TABLE_NAME } from '../takeover/objects.js';
import { TOKEN_CLASSID } from '../takeover/token.js';
import { MAX_LIMIT, bigintLockId, lockIdForKey, lockIdHalves } from '../key/lock-id.js';
import { HELD_SINCE_COMMENT } from './lock-statements.js';
import { intLiteral } from './literals.js';

// Who holds and who waits for advisory locks: pg_locks joined with pg_stat_activity, for
// `pglock status` and for naming the holder in "lock busy" messages.

/** One advisory lock request in the current database: a holder (granted) or a waiter. */
export interface AdvisoryLockRow {
  /**
   * The lock id: a signed 64-bit decimal for the bigint form (what pglock and
   * pg_advisory_lock(bigint) use), or `key1:key2` (signed int4s) for pg_advisory_lock(int, int).
   */
  lockId: string;
  /** The pglock key, when the session is a pglock whose key hashes to this id (or a slot of it). */
  key: string | null;
  /**
   * With `key`: 0 for the key's own id, n for slot n of `--limit` (id + n), −1 for the gate that
   * `--limit` waiters queue on (id − 1). Null when key is null.
   */
  slot: number | null;
  granted: boolean;
  mode: 'exclusive' | 'shared';
  /** The backend's pid (0 for a lock held by a prepared transaction, which has no backend). */
  pid: number;
  applicationName: string | null;
  /** The pglock process, from an application_name `pglock:<key>@<host>:<pid>`. */
  pglock: PglockSession | null;
  clientAddr: string | null;
  user: string | null;
  /**
   * ISO time. Holders: when the lock was granted, if known: from the held-since comment of a
   * pglock heartbeat, else for an idle pglock session the end of its lock statement; null when
   * unknown (other sessions, hidden details). Waiters: when the wait began (pg_locks.waitstart on
   * PostgreSQL 14+, else the start of the waiting statement).
   */
  since: string | null;
  backendStart: string | null;
  /** PostgreSQL hid the session's details: it belongs to another role and we lack pg_read_all_stats. */
  detailsHidden: boolean;
}

export interface PglockSession {
  key: string;
  host: string;
  pid: number;
}

/** A client that can run a simple-protocol statement: postgres.Sql, or a reserved connection. */
export type { SqlClient };

export interface AdvisoryLockFilter {
  /** Only these bigint lock ids (two-int4 locks never match). An empty list matches nothing. */
  ids?: bigint[];
}


interface RawRow {
  objsubid: number;
  classid: string;
  objid: string;
  granted: boolean;
  mode: string;
  pid: number | null;
  hasactivity: boolean;
  appname: string | null;
  clientaddr: string | null;
  username: string | null;
  state: string | null;
  queryhead: string | null;
  lockstatement: boolean | null;
  statechange: string | null;
  querystart: string | null;
  backendstart: string | null;
  waitstart: string | null;
}

// Times come back as ISO text made by the server, whatever type parsers the client has.
const iso = (expression: string) => `pg_catalog.to_char((${expression}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

// Column names are single lower-case words, so a client with a column-name transform (such as
// postgres.camel) returns them unchanged.
const SELECT = `
  select l.objsubid, l.classid::text as classid, l.objid::text as objid, l.granted, l.mode, l.pid,
    a.pid is not null as hasactivity,
    a.application_name as appname, pg_catalog.host(a.client_addr) as clientaddr, a.usename::text as username, a.state,
    pg_catalog.left(a.query, 120) as queryhead,
    a.query operator(pg_catalog.~) 'pg_(try_)?advisory_lock|${RUNS_TABLE_NAME}|${HOLDERS_TABLE_NAME}|pglock_claim' as lockstatement,
    ${iso('a.state_change')} as statechange,
    ${iso('a.query_start')} as querystart,
    ${iso('a.backend_start')} as backendstart,
    ${iso("(pg_catalog.to_jsonb(l) ->> 'waitstart')::pg_catalog.timestamptz")} as waitstart
  from pg_catalog.pg_locks l
  left join pg_catalog.pg_stat_activity a on a.pid = l.pid
  where l.locktype = 'advisory' and not (l.objsubid = 2 and l.classid = '${TOKEN_CLASSID}'::pg_catalog.oid)
    and l.database = (select oid from pg_catalog.pg_database where datname = pg_catalog.current_database())`;
// A lock session's token (takeover/token.ts) is pglock's own, not a lock anyone took: left out.
// pg_locks.waitstart exists from PostgreSQL 14 on; through to_jsonb the statement also runs on
// older servers, where it is null.

/**
 * The advisory locks of the current database, holders and waiters, ordered by lock id, holders
 * first, then by since. One statement, no bind parameters (each would cost a round trip).
 */
export async function listAdvisoryLocks(sql: SqlClient, filter: AdvisoryLockFilter = {}): Promise<AdvisoryLockRow[]> {
  let where = '';
  if (filter.ids !== undefined) {
    if (filter.ids.length === 0) return [];
    // pg_locks shows a bigint id as two oids (its high and low 32 bits): compare those, not an
    // id computed from them, so the condition is a plain equality on the columns.
    const pairs = filter.ids.map((id) => {
      const { classid, objid } = lockIdHalves(id);
      return `(${intLiteral(BigInt(classid))}::pg_catalog.oid, ${intLiteral(BigInt(objid))}::pg_catalog.oid)`;
    });
    where = ` and l.objsubid = 1 and (l.classid, l.objid) in (${pairs.join(', ')})`;
  }
  const raw = await sql.unsafe<RawRow[]>(SELECT + where);
  const heldPerSession = new Map<number, number>();
  for (const row of raw) if (row.granted && row.pid !== null) heldPerSession.set(row.pid, (heldPerSession.get(row.pid) ?? 0) + 1);
  return raw.map((row) => toLockRow(row, heldPerSession.get(row.pid ?? 0) ?? 0)).sort(compareRows);
}

function toLockRow(raw: RawRow, heldBySession: number): AdvisoryLockRow {
  const objsubid = Number(raw.objsubid);
  const lockId = objsubid === 1 ? String(bigintLockId(raw.classid, raw.objid)) : `${int4(raw.classid)}:${int4(raw.objid)}`;
  const pglock = parsePglockApplicationName(raw.appname);
  const slot = pglock !== null && objsubid === 1 ? keySlot(lockId, pglock.key) : null;
  const granted = raw.granted === true;
  // The pglock session's own lock: its key's id or slot, or with --lock-id the id its
  // application_name names. A library user may take other locks on the same session.
  const ownLock = pglock !== null && (slot !== null || pglock.key === lockId);
  return {
    lockId,
    key: slot === null ? null : (pglock?.key ?? null),
    slot,
    granted,
    mode: raw.mode === 'ShareLock' ? 'shared' : 'exclusive',
    pid: raw.pid === null ? 0 : Number(raw.pid),
    applicationName: raw.appname,
    pglock,
    clientAddr: raw.clientaddr,
    user: raw.username,
    since: granted ? heldSince(raw, pglock !== null, ownLock || heldBySession === 1) : (raw.waitstart ?? raw.querystart),
    backendStart: raw.backendstart,
    detailsHidden: raw.hasactivity === true && raw.backendstart === null,
  };
}

// PostgreSQL does not record when a lock was granted. A pglock's heartbeat statement starts with
// a comment saying so, and pg_stat_activity shows an idle session's last statement. Before the
// first heartbeat, an idle pglock session's last statement is the one that took the lock (or the
// run record's start right after it, with --record), so the time it went idle is the grant. `attributable`:
// the session holds only this lock, or this is the lock its application_name names, so the
// comment is about this lock.
function heldSince(raw: RawRow, isPglock: boolean, attributable: boolean): string | null {
  if (!attributable) return null;
  const fromComment = parseHeldSince(raw.queryhead);
  if (fromComment !== null) return fromComment;
  if (isPglock && raw.state === 'idle' && raw.lockstatement === true) return raw.statechange;
  return null;
}

function parseHeldSince(query: string | null): string | null {
  if (query === null || !query.startsWith(HELD_SINCE_COMMENT)) return null;
  const end = query.indexOf(' */', HELD_SINCE_COMMENT.length);
  const text = end < 0 ? '' : query.slice(HELD_SINCE_COMMENT.length, end);
  const time = Date.parse(text);
  return /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(text) && Number.isFinite(time) ? new Date(time).toISOString() : null;
}

// pg_advisory_lock(int, int) keys show as oids: print them as the int4s the caller passed.
function int4(oid: string): number {
  return Number(BigInt.asIntN(32, BigInt(oid)));
}

/**
 * Which lock of `key` the id is: 0 its own, 1 to 999 a --limit slot, −1 the --limit gate; null
 * when the id is none of these.
 */
export function keySlot(lockId: string | bigint, key: string): number | null {
  if (key === '' || (typeof lockId === 'string' && !/^-?\d+$/.test(lockId))) return null;
  return slotOf(BigInt(lockId), lockIdForKey(key));
}

/** The slot of `lockId` relative to `baseId` (−1 to 999, else null), wrapping around the signed range like slotIds. */
export function slotOf(lockId: bigint, baseId: bigint): number | null {
  const offset = BigInt.asUintN(64, lockId - baseId + 1n);
  return offset < BigInt(MAX_LIMIT + 1) ? Number(offset) - 1 : null;
}

/**
 * The pglock process behind an application_name `pglock:<key>@<host>:<pid>` (the form pglock
 * sets), or null. Keys may contain '@' and ':', host names do not: split at the last '@', then
 * at the last ':'. The key is as PostgreSQL kept it: truncated when long, non-ASCII as '?'.
 */
export function parsePglockApplicationName(name: string | null): PglockSession | null {
  if (name === null || !name.startsWith('pglock:')) return null;
  const rest = name.slice('pglock:'.length);
  const at = rest.lastIndexOf('@');
  const colon = rest.lastIndexOf(':');
  if (at < 1 || colon < at + 2) return null;
  const pidText = rest.slice(colon + 1);
  if (!/^\d{1,10}$/.test(pidText)) return null;
  return { key: rest.slice(0, at), host: rest.slice(at + 1, colon), pid: Number(pidText) };
}

/**
 * One phrase naming the session behind a lock row, for messages: "pglock on web-1 (pid 4242),
 * held for 12s", or "backend 1234 (application 'psql', client 10.0.0.5, user bob), held for 3m2s".
 */
export function describeHolder(row: AdvisoryLockRow, now: Date = new Date()): string {
  const parts = [describeSession(row)];
  if (row.slot !== null && row.slot > 0) parts.push(`slot ${row.slot}`);
  if (row.slot === -1) parts.push('queued for a slot');
  const age = row.since === null ? undefined : formatAge(row.since, now);
  if (age !== undefined) parts.push(`${row.granted ? `held${row.mode === 'shared' ? ' shared' : ''}` : 'waiting'} for ${age}`);
  return parts.join(', ');
}

function describeSession(row: AdvisoryLockRow): string {
  if (row.pglock !== null) return `pglock on ${row.pglock.host} (pid ${row.pglock.pid})`;
  if (row.pid === 0) return 'a prepared transaction';
  const details: string[] = [];
  if (row.applicationName) details.push(`application '${row.applicationName}'`);
  if (!row.detailsHidden) details.push(`client ${row.clientAddr ?? 'local socket'}`);
  if (row.user !== null) details.push(`user ${row.user}`);
  if (row.detailsHidden) {
    const hidden = 'the role cannot see other sessions; grant pg_read_all_stats to see them';
    return `backend ${row.pid} (${details.length > 0 ? `${details.join(', ')}; other details hidden: ` : 'details hidden: '}${hidden})`;
  }
  return `backend ${row.pid} (${details.join(', ')})`;
}

/** How long ago an ISO time was, as formatDuration puts it; clock skew never makes it negative. */
export function formatAge(since: string, now: Date = new Date()): string | undefined {
  const time = Date.parse(since);
  return Number.isFinite(time) ? formatDuration(Math.max(0, now.getTime() - time)) : undefined;
}

function compareRows(a: AdvisoryLockRow, b: AdvisoryLockRow): number {
  return compareLockIds(a.lockId, b.lockId)
    || Number(b.granted) - Number(a.granted)
    || compareSince(a.since, b.since)
    || a.pid - b.pid;
}

// Bigint ids numerically, then the two-int4 ids (key1, then key2).
function compareLockIds(a: string, b: string): number {
  const pairA = a.includes(':');
  const pairB = b.includes(':');
  if (pairA !== pairB) return pairA ? 1 : -1;
  if (!pairA) return sign(BigInt(a) - BigInt(b));
  const [a1 = 0, a2 = 0] = a.split(':').map(Number);
  const [b1 = 0, b2 = 0] = b.split(':').map(Number);
  return a1 - b1 || a2 - b2;
}

function compareSince(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

function sign(value: bigint): number {
  return value < 0n ? -1 : value > 0n ? 1 : 0;
}
