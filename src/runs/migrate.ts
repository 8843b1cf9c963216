import type { ReservedSql } from '../connection/index.js';
import { intLiteral } from '../sql/literals.js';
import { CREATE_LOCK_ID, RUNS_SCHEMA, RUNS_TABLE, RUNS_TABLE_NAME } from './table.js';


// Before the run history (issue 22) the table kept one row per lock id: its primary key was
// (lock_id). Now it keeps a row per run, keyed (lock_id, fencing_token). An old table is migrated
// in place, keeping its rows (each is then its key's only run so far), the first time a run's row
// collides with that old key: no statement on the hot path looks for it.

// A DO block, so that the check and the change are one statement; under the same transaction
// lock as the table's creation, so concurrent pglocks migrate it once. Only a primary key of
// exactly (lock_id) is replaced, whatever its name.
const MIGRATE = `
  select pg_catalog.pg_advisory_xact_lock(${intLiteral(CREATE_LOCK_ID)}::pg_catalog.int8);
  do $pglock$
  declare
    old_key pg_catalog.name;
  begin
    select c.conname into old_key from pg_catalog.pg_constraint c
      join pg_catalog.pg_attribute a on a.attrelid operator(pg_catalog.=) c.conrelid and a.attnum operator(pg_catalog.=) c.conkey[1]
      where c.conrelid operator(pg_catalog.=) pg_catalog.to_regclass('${RUNS_SCHEMA}.${RUNS_TABLE_NAME}') and c.contype operator(pg_catalog.=) 'p'
        and pg_catalog.array_length(c.conkey, 1) operator(pg_catalog.=) 1 and a.attname operator(pg_catalog.=) 'lock_id';
    if old_key is not null then
      execute pg_catalog.format('alter table ${RUNS_TABLE} drop constraint %I, add primary key (lock_id, fencing_token)', old_key);
    end if;
  end
  $pglock$`;

/** Give an old run table the history's primary key, if it still has the old one. */
export async function migrateRunsTable(sql: ReservedSql): Promise<void> {
  await sql.unsafe(MIGRATE);
}
