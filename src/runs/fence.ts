import { RUNS_SCHEMA, RUNS_TABLE } from './table.js';

// The fence (docs/safety.md): a check a job makes where it writes, in its own READ COMMITTED
// transaction, with its key (or lock id) and fencing token. It fails (SQLSTATE PGLF1) if a newer
// holder of the key has started, and otherwise holds a share lock on this holder's own run row until
// the transaction ends; a newer holder's start locks the key's latest run row first (record.ts), so
// it waits until then. A stale holder's write thus either commits before the newer holder starts,
// or fails, whatever the clocks and however long the stale holder was paused.

export const FENCE_FUNCTION = `${RUNS_SCHEMA}.pglock_fence`;
export const FENCE_ID_FUNCTION = `${RUNS_SCHEMA}.pglock_fence_id`;
/** The SQLSTATE of a stale write: a newer holder exists. */
export const FENCED_SQLSTATE = 'PGLF1';

/** The two functions: by lock id, and by key (hashed to the id exactly as pglock does). */
export const CREATE_FENCE_FUNCTIONS = `create or replace function ${FENCE_ID_FUNCTION}(p_lock_id bigint, p_token bigint)
returns bigint language plpgsql volatile set search_path = pg_catalog, pg_temp as $fence$
declare
  v_held bigint;
  v_latest bigint;
begin
  if pg_catalog.current_setting('transaction_isolation') operator(pg_catalog.<>) 'read committed' then
    raise exception using errcode = 'PGLF2', message = pg_catalog.format(
      'pglock_fence needs a READ COMMITTED transaction, and this one is %s: a newer holder''s start would not be seen',
      pg_catalog.current_setting('transaction_isolation'));
  end if;
  -- This holder's own run, share-locked until the transaction ends: a newer start waits for it.
  select r.fencing_token into v_held from ${RUNS_TABLE} r
    where r.lock_id operator(pg_catalog.=) p_lock_id and r.fencing_token operator(pg_catalog.=) p_token for share;
  -- Then, in a statement of its own (a new snapshot), any newer start committed before that lock.
  select pg_catalog.max(r.fencing_token) into v_latest from ${RUNS_TABLE} r where r.lock_id operator(pg_catalog.=) p_lock_id;
  if v_held is null or v_latest is distinct from p_token then
    raise exception using errcode = '${FENCED_SQLSTATE}', message = pg_catalog.format(
      'pglock_fence: lock id %s has a newer holder (fencing token %s; this write''s is %s): the write is stale', p_lock_id, v_latest, p_token);
  end if;
  return p_token;
end
$fence$;
create or replace function ${FENCE_FUNCTION}(p_key text, p_token bigint)
returns bigint language sql volatile set search_path = pg_catalog, pg_temp as $fence$
  select ${FENCE_ID_FUNCTION}(('x' operator(pg_catalog.||) pg_catalog.left(pg_catalog.encode(pg_catalog.sha256(
    pg_catalog.convert_to(p_key, 'UTF8')), 'hex'), 16))::pg_catalog.bit(64)::pg_catalog.int8, p_token)
$fence$`;
