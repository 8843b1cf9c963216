import type { ReservedSql } from './connection/index.js';
import { DatabaseUnavailableError } from './errors.js';
import { lockIdForKey } from './lock-id.js';
import { intLiteral } from './sql-int.js';

// Fencing tokens: a number per lock id that grows every time the lock is taken, so that a storage
// system the child writes to can reject a write from a holder that has since lost the lock (it
// carries an older token). The counter is a row in a small table that pglock creates on first use,
// in the schema public (schema-qualified, like every object pglock reads or creates):
//
//   create table if not exists public.pglock_fencing_tokens (
//     lock_id bigint primary key, token bigint not null, updated_at timestamptz not null default now())
//
// The increment is an ordinary committed write, so a token is never handed out twice, even after a
// server crash (a sequence could be: nextval is not WAL-flushed by a read-only transaction).
// It runs while the lock is held, so increments for one key are ordered like the holders.
//
// Across failovers: a token is timeline × 2³² + a counter. Every promotion of a standby starts a
// new, higher timeline, so the first token on the new primary is above every token the old one
// handed out, even those whose commits never reached the standby (asynchronous replication).

export const FENCING_SCHEMA = 'public';
export const FENCING_TABLE = 'pglock_fencing_tokens';
const TABLE = `${FENCING_SCHEMA}.${FENCING_TABLE}`;

const CREATE_TABLE = `create table if not exists ${TABLE} (
  lock_id bigint primary key,
  token bigint not null,
  updated_at timestamptz not null default now()
)`;

// Concurrent "create table if not exists" can still collide in the catalogs (a unique violation
// on pg_type); a transaction-level advisory lock serializes the pglock processes creating it.
const CREATE_LOCK_ID = lockIdForKey('pglock:create-fencing-table');

/** The next fencing token for the lock `id` (1 the first time). Creates the table if needed. */
export async function nextFencingToken(sql: ReservedSql, id: bigint): Promise<bigint> {
  try {
    return await increment(sql, id);
  } catch (error) {
    if (sqlState(error) !== '42P01') throw fencingError(error);
  }
  try {
    // One simple-protocol string is one implicit transaction: the xact lock lasts until the table
    // exists.
    await sql.unsafe(`select pg_catalog.pg_advisory_xact_lock(${intLiteral(CREATE_LOCK_ID)}::pg_catalog.int8); ${CREATE_TABLE}`);
    return await increment(sql, id);
  } catch (error) {
    throw fencingError(error);
  }
}

// The timeline is the first 8 hex digits of the current WAL file's name.
const TIMELINE_BASE = `(('x' operator(pg_catalog.||) pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::pg_catalog.bit(32)::pg_catalog.int8 operator(pg_catalog.*) 4294967296)`;

async function increment(sql: ReservedSql, id: bigint): Promise<bigint> {
  const [row] = await sql.unsafe<{ token: string }[]>(`
    insert into ${TABLE} as f (lock_id, token) select ${intLiteral(id)}, ${TIMELINE_BASE} operator(pg_catalog.+) 1
    on conflict (lock_id) do update set token = greatest(f.token operator(pg_catalog.+) 1, excluded.token), updated_at = pg_catalog.now()
    returning token::pg_catalog.text as token`);
  if (row === undefined) throw new Error('no fencing token returned');
  return BigInt(row.token);
}

function fencingError(error: unknown): Error {
  const state = sqlState(error);
  const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
  if (state === '42501' || state === '25006' || state === '3F000') {
    return new DatabaseUnavailableError(
      `--fencing-token needs the table ${TABLE}, and this role cannot create or write it (${reason}); ` +
        `have an administrator run: ${CREATE_TABLE.replace(/\s+/g, ' ')}; and grant select, insert, update on ${TABLE} to the role`,
      { cause: error, code: 'EFENCING' },
    );
  }
  if (typeof state === 'string' && state.length === 5) return new DatabaseUnavailableError(`could not get a fencing token: ${reason}`, { cause: error, code: 'EFENCING' });
  return error instanceof Error ? error : new Error(reason);
}

function sqlState(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}
