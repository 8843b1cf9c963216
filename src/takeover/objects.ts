import { lockIdForKey } from '../key/lock-id.js';

// The holder record, kept for the takeover delay (docs/safety.md): one row per lock a pglock holder
// holds or is taking over, in a table pglock creates on first use (schema public, as the run
// record; every object schema-qualified). A holder writes its row in the statement that follows its
// grant (pglock_claim) and, in the transaction of its unlock, marks it released (bound 0), or
// deletes it (a connection of its own, closing, with no delayed start ahead); so a row with a bound
// whose backend no longer holds the lock is a holder that was cut off (backend
// terminated, network cut, crash, failover, pglock killed), and `bound_ms` says how long after
// losing its session it may still run.

export const HOLDERS_SCHEMA = 'public';
export const HOLDERS_TABLE_NAME = 'pglock_holders';
export const HOLDERS_TABLE = `${HOLDERS_SCHEMA}.${HOLDERS_TABLE_NAME}`;
export const CLAIM_FUNCTION = `${HOLDERS_SCHEMA}.pglock_claim`;

/** The table; docs/safety.md and the "cannot create" line print it. */
export const CREATE_HOLDERS_TABLE = `create table if not exists ${HOLDERS_TABLE} (
  lock_id bigint not null,
  backend_pid integer not null,
  key text,
  host text,
  pid integer,
  granted_at timestamptz not null,
  bound_ms bigint not null,
  not_before timestamptz not null,
  primary key (lock_id, backend_pid)
)`;

// pglock_claim(lock id, classid, objid, key, host, pid, bound, delay, record): called by a holder
// right after its grant, in a statement of its own (its snapshot taken after the grant). Every other
// row of the lock is an earlier holder: released (bound 0) or cut off. Each is locked first (a
// holder whose release is still committing is waited for, and then reads as released); the start
// is delayed until the later of its delayed start and now + its bound (or + `delay` when the caller
// fixes one; a released row's bound is 0, and a fixed delay is for cut-off holders only) - unless its
// backend holds the lock now (a shared holder alongside). With `record`,
// those rows are settled (deleted) and the caller's row written with its bound and its delayed
// start, which a holder after it honours in turn if this one too is cut off, or releases before it
// (the row keeps its delayed start, with bound 0). Returns one JSON object: the delay in
// milliseconds (0 when the caller asked for no delay: `delay` 0 still keeps the record for others)
// and who was cut off. pg_locks, a scan of the server's whole lock table, is read only for a row
// that would delay the start. Volatile, search_path pinned, plans cached per backend.
export const CREATE_CLAIM_FUNCTION = `create or replace function ${CLAIM_FUNCTION}(
  p_lock_id bigint, p_classid oid, p_objid oid, p_key text, p_host text, p_pid integer, p_bound_ms bigint, p_delay_ms bigint,
  p_record boolean
) returns text language plpgsql volatile set search_path = pg_catalog, pg_temp as $claim$
declare
  v_granted timestamptz := pg_catalog.clock_timestamp();
  v_until timestamptz;
  v_worst timestamptz;
  v_start timestamptz;
  v_own timestamptz;
  v_cut_host text;
  v_cut_pid integer;
  v_cut_backend integer;
  v_cut_granted timestamptz;
  v_cut_bound bigint;
  r record;
begin
  for r in select h.* from ${HOLDERS_TABLE} h
      where h.lock_id operator(pg_catalog.=) p_lock_id and h.backend_pid operator(pg_catalog.<>) pg_catalog.pg_backend_pid()
      for update of h
  loop
    v_until := greatest(r.not_before, v_granted operator(pg_catalog.+) pg_catalog.make_interval(secs =>
      (case when r.bound_ms operator(pg_catalog.=) 0 then 0 when p_delay_ms operator(pg_catalog.>) 0 then p_delay_ms else r.bound_ms end)::pg_catalog.float8 operator(pg_catalog./) 1000));
    if v_until operator(pg_catalog.>) v_granted then
      perform from pg_catalog.pg_locks l
        where l.locktype operator(pg_catalog.=) 'advisory' and l.pid operator(pg_catalog.=) r.backend_pid and l.granted
          and l.classid operator(pg_catalog.=) p_classid and l.objid operator(pg_catalog.=) p_objid and l.objsubid operator(pg_catalog.=) 1;
      continue when found;
      if v_worst is null or v_until operator(pg_catalog.>) v_worst then
        v_worst := v_until;
        v_cut_host := r.host;
        v_cut_pid := r.pid;
        v_cut_backend := r.backend_pid;
        v_cut_granted := r.granted_at;
        v_cut_bound := r.bound_ms;
      end if;
    end if;
    if p_record then
      delete from ${HOLDERS_TABLE} h where h.lock_id operator(pg_catalog.=) r.lock_id and h.backend_pid operator(pg_catalog.=) r.backend_pid;
    end if;
  end loop;
  v_worst := greatest(v_worst, v_granted);
  v_start := v_worst;
  -- This backend's own row: a delayed start it took over earlier and released within still stands.
  -- Run without p_record too, writing nothing: a waiter's call before it queues plans them both.
  update ${HOLDERS_TABLE} h set key = p_key, host = p_host, pid = p_pid, granted_at = v_granted, bound_ms = p_bound_ms,
      not_before = greatest(h.not_before, v_worst)
    where p_record and h.lock_id operator(pg_catalog.=) p_lock_id and h.backend_pid operator(pg_catalog.=) pg_catalog.pg_backend_pid()
    returning h.not_before into v_own;
  if found then
    v_start := v_own;
  else
    insert into ${HOLDERS_TABLE} as h (lock_id, backend_pid, key, host, pid, granted_at, bound_ms, not_before)
      select p_lock_id, pg_catalog.pg_backend_pid(), p_key, p_host, p_pid, v_granted, p_bound_ms, v_worst where p_record
      on conflict (lock_id, backend_pid) do update set key = excluded.key, host = excluded.host, pid = excluded.pid,
        granted_at = excluded.granted_at, bound_ms = excluded.bound_ms, not_before = excluded.not_before;
  end if;
  return pg_catalog.json_build_object(
    'delayMs', case when p_delay_ms operator(pg_catalog.=) 0 then 0 else greatest(0, pg_catalog.ceil(pg_catalog.date_part('epoch', v_start operator(pg_catalog.-) pg_catalog.clock_timestamp()) operator(pg_catalog.*) 1000))::pg_catalog.int8 end,
    'until', v_start, 'ahead', v_start operator(pg_catalog.>) v_granted,
    'cutHost', v_cut_host, 'cutPid', v_cut_pid, 'cutBackendPid', v_cut_backend,
    'cutGrantedAt', v_cut_granted, 'cutBoundMs', v_cut_bound)::pg_catalog.text;
end
$claim$`;

/** Serializes the pglock processes creating the objects (concurrent DDL can collide in the catalogs). */
export const CREATE_HOLDERS_LOCK_ID = lockIdForKey('pglock:create-holders-table');
