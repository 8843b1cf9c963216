import type { ReservedSql } from '../connection/index.js';
import { DatabaseUnavailableError } from '../errors.js';
import { lockIdForKey } from '../key/lock-id.js';
import { intLiteral } from '../sql/literals.js';

// The run record: one row per run (the last --history runs of each lock id), in a table pglock
// creates on first use, in the schema public (schema-qualified, like every object pglock reads or
// creates). Each row holds a run's fencing token (the newest row holds the key's): when it started and ended (by the database's clock), where (host and
// pglock pid), and how it ended. pglock writes it only when asked to (--record, --min-interval,
// --fencing-token); a plain run writes nothing.

export const RUNS_SCHEMA = 'public';
export const RUNS_TABLE_NAME = 'pglock_runs';
export const RUNS_TABLE = `${RUNS_SCHEMA}.${RUNS_TABLE_NAME}`;

/** The statement that creates the table; docs/operating.md and the "cannot create" error print it. */
export const CREATE_RUNS_TABLE = `create table if not exists ${RUNS_TABLE} (
  lock_id bigint not null,
  key text,
  fencing_token bigint not null,
  started_at timestamptz not null,
  ended_at timestamptz,
  host text,
  pid integer,
  outcome text not null,
  exit_code integer,
  signal text,
  primary key (lock_id, fencing_token)
)`;

/** What an administrator runs when pglock's role may not migrate an old table (see migrate.ts). */
export const MIGRATE_RUNS_TABLE = `alter table ${RUNS_TABLE} drop constraint ${RUNS_TABLE_NAME}_pkey, add primary key (lock_id, fencing_token)`;

// Concurrent "create table if not exists" can still collide in the catalogs (a unique violation
// on pg_type); a transaction-level advisory lock serializes the pglock processes creating it.
export const CREATE_LOCK_ID = lockIdForKey('pglock:create-runs-table');

/** Run `write`; if the table does not exist yet, create it and run `write` again. */
export async function withRunsTable<T>(sql: ReservedSql, what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (sqlState(error) !== '42P01') throw runsTableError(error, what);
  }
  try {
    // One simple-protocol string is one implicit transaction: the xact lock lasts until the table
    // exists.
    await sql.unsafe(`select pg_catalog.pg_advisory_xact_lock(${intLiteral(CREATE_LOCK_ID)}::pg_catalog.int8); ${CREATE_RUNS_TABLE}`);
    return await write();
  } catch (error) {
    throw runsTableError(error, what);
  }
}

/** A failure to create or write the table: 69, with the SQL an administrator can run. */
export function runsTableError(error: unknown, what: string): Error {
  const state = sqlState(error);
  const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
  if (state === '42501' && /must be owner/.test(reason ?? '')) {
    return new DatabaseUnavailableError(
      `${what}: the table ${RUNS_TABLE} is from before the run history and this role may not migrate it (${reason}); ` +
        `have its owner run: ${MIGRATE_RUNS_TABLE}`,
      { cause: error, code: 'ERUNTABLE' },
    );
  }
  if (state === '42501' || state === '25006' || state === '3F000') {
    return new DatabaseUnavailableError(
      `${what} needs the table ${RUNS_TABLE}, and this role cannot create or write it (${reason}); ` +
        `have an administrator run: ${CREATE_RUNS_TABLE.replace(/\s+/g, ' ')}; and grant select, insert, update, delete on ${RUNS_TABLE} to the role`,
      { cause: error, code: 'ERUNTABLE' },
    );
  }
  if (typeof state === 'string' && state.length === 5) return new DatabaseUnavailableError(`${what}: cannot write the run record in ${RUNS_TABLE}: ${reason}`, { cause: error, code: 'ERUNTABLE' });
  return error instanceof Error ? error : new Error(reason);
}

export function sqlState(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}
