import type { ReservedSql } from './connect.js';
import { DatabaseUnavailableError } from './errors.js';
import { lockIdForKey } from './lock-id.js';
import { intLiteral } from './sql-int.js';

// Fencing tokens: a number per lock id that grows by one every time the lock is taken, so that a
// storage system the child writes to can reject a write from a holder that has since lost the
// lock (it carries an older token). The counter is a row in a small table that pglock creates on
// first use, in the session's current schema (the first schema in search_path it may create in):
//
//   create table if not exists pglock_fencing_tokens (
//     lock_id bigint primary key, token bigint not null, updated_at timestamptz not null default now())
//
// The increment is an ordinary committed write, so a token is never handed out twice, even after a
// server crash (a sequence could be: nextval is not WAL-flushed by a read-only transaction).
// It runs while the lock is held, so increments for one key are ordered like the holders.

export const FENCING_TABLE = 'pglock_fencing_tokens';

const CREATE_TABLE = `create table if not exists ${FENCING_TABLE} (
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
    await sql.unsafe(`select pg_advisory_xact_lock(${intLiteral(CREATE_LOCK_ID)}::bigint); ${CREATE_TABLE}`);
    return await increment(sql, id);
  } catch (error) {
    throw fencingError(error);
  }
}

async function increment(sql: ReservedSql, id: bigint): Promise<bigint> {
  const [row] = await sql.unsafe<{ token: string }[]>(`
    insert into ${FENCING_TABLE} as f (lock_id, token) values (${intLiteral(id)}, 1)
    on conflict (lock_id) do update set token = f.token + 1, updated_at = now()
    returning token::text as token`);
  if (row === undefined) throw new Error('no fencing token returned');
  return BigInt(row.token);
}

function fencingError(error: unknown): Error {
  const state = sqlState(error);
  const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
  if (state === '42501' || state === '25006' || state === '3F000') {
    return new DatabaseUnavailableError(
      `--fencing-token needs the table ${FENCING_TABLE}, and this role cannot create or write it (${reason}); ` +
        `have an administrator run: ${CREATE_TABLE.replace(/\s+/g, ' ')}; and grant select, insert, update on it`,
      { cause: error, code: 'EFENCING' },
    );
  }
  if (typeof state === 'string' && state.length === 5) return new DatabaseUnavailableError(`could not get a fencing token: ${reason}`, { cause: error, code: 'EFENCING' });
  return error instanceof Error ? error : new Error(reason);
}

function sqlState(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}
