import { lockIdForKey } from '../key/lock-id.js';

// The holder record, kept for the takeover delay (docs/safety.md): one row per lock a pglock holder
// holds or is taking over, in a table pglock creates on first use (schema public, as the run
// record; every object schema-qualified). A holder writes its row in the statement that follows its
// grant (pglock_claim) and deletes it, committed, just before its unlock; so a row whose holder no
// longer holds the lock is a holder that was cut off (backend terminated, network cut, crash,
// failover, pglock killed), and `bound_ms` says how long after losing its session it may still run.

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

// pglock_claim(lock id, classid, objid, key, host, pid, bound, delay): called by a holder right after
// its grant, in a statement of its own (so it sees every row committed before the grant: a clean
// holder deletes its row before it unlocks). For each row of the lock whose backend does not hold
// the lock now (a holder cut off), the start is delayed until that holder must have stopped: the
// later of its own delayed start and now + its bound (or + `delay` when the caller fixes one). Those
// rows are then settled (deleted) and the caller's row written with its bound and that delayed start,
// which a holder after it honours in turn if this one too is cut off, or releases before it (then the
// row stays, with bound 0). Returns one JSON object: the delay in milliseconds (0 when the caller
// asked for no delay: `delay` 0 still keeps the record for others) and who was cut off. With `record`
// false (a transaction lock) it only reads: the delay, nothing written or settled. Volatile: each statement inside sees what
// was committed before it ran, not the snapshot of the caller's statement. search_path is pinned.
export const CREATE_CLAIM_FUNCTION = `create or replace function ${CLAIM_FUNCTION}(
  p_lock_id bigint, p_classid oid, p_objid oid, p_key text, p_host text, p_pid integer, p_bound_ms bigint, p_delay_ms bigint,
  p_record boolean
) returns text language plpgsql volatile set search_path = pg_catalog, pg_temp as $claim$
declare
  v_granted timestamptz := pg_catalog.clock_timestamp();
  v_until timestamptz;
  v_worst timestamptz;
  v_own timestamptz;
  v_cut_host text;
  v_cut_pid integer;
  v_cut_backend integer;
  v_cut_granted timestamptz;
  v_cut_bound bigint;
  r record;
begin
  if p_record then
    -- The rows this claim settles, locked (a shared holder's concurrent claim waits).
    perform from ${HOLDERS_TABLE} h
      where h.lock_id operator(pg_catalog.=) p_lock_id and h.backend_pid operator(pg_catalog.<>) pg_catalog.pg_backend_pid() for update;
  end if;
  for r in select h.* from ${HOLDERS_TABLE} h
      where h.lock_id operator(pg_catalog.=) p_lock_id and h.backend_pid operator(pg_catalog.<>) pg_catalog.pg_backend_pid()
        and not exists (select from pg_catalog.pg_locks l
          where l.locktype operator(pg_catalog.=) 'advisory' and l.pid operator(pg_catalog.=) h.backend_pid and l.granted
            and l.classid operator(pg_catalog.=) p_classid and l.objid operator(pg_catalog.=) p_objid and l.objsubid operator(pg_catalog.=) 1)
  loop
    v_until := greatest(r.not_before, v_granted operator(pg_catalog.+) pg_catalog.make_interval(secs =>
      (case when p_delay_ms operator(pg_catalog.>) 0 then p_delay_ms else r.bound_ms end)::pg_catalog.float8 operator(pg_catalog./) 1000));
    if v_worst is null or v_until operator(pg_catalog.>) v_worst then
      v_worst := v_until;
      v_cut_host := r.host;
      v_cut_pid := r.pid;
      v_cut_backend := r.backend_pid;
      v_cut_granted := r.granted_at;
      v_cut_bound := r.bound_ms;
    end if;
    if p_record then
      delete from ${HOLDERS_TABLE} h where h.lock_id operator(pg_catalog.=) r.lock_id and h.backend_pid operator(pg_catalog.=) r.backend_pid;
    end if;
  end loop;
  -- This backend's own row, left by a clean release during its own delayed start: that wait still stands.
  select h.not_before into v_own from ${HOLDERS_TABLE} h
    where h.lock_id operator(pg_catalog.=) p_lock_id and h.backend_pid operator(pg_catalog.=) pg_catalog.pg_backend_pid();
  v_worst := greatest(v_worst, v_own, v_granted);
  if p_record then
  insert into ${HOLDERS_TABLE} as h (lock_id, backend_pid, key, host, pid, granted_at, bound_ms, not_before)
    values (p_lock_id, pg_catalog.pg_backend_pid(), p_key, p_host, p_pid, v_granted, p_bound_ms, v_worst)
    on conflict (lock_id, backend_pid) do update set key = excluded.key, host = excluded.host, pid = excluded.pid,
      granted_at = excluded.granted_at, bound_ms = excluded.bound_ms, not_before = excluded.not_before;
  end if;
  return pg_catalog.json_build_object(
    'delayMs', case when p_delay_ms operator(pg_catalog.=) 0 then 0 else greatest(0, pg_catalog.ceil(pg_catalog.date_part('epoch', v_worst operator(pg_catalog.-) pg_catalog.clock_timestamp()) operator(pg_catalog.*) 1000))::pg_catalog.int8 end,
    'until', v_worst,
    'cutHost', v_cut_host, 'cutPid', v_cut_pid, 'cutBackendPid', v_cut_backend,
    'cutGrantedAt', v_cut_granted, 'cutBoundMs', v_cut_bound)::pg_catalog.text;
end
$claim$`;

/** Serializes the pglock processes creating the objects (concurrent DDL can collide in the catalogs). */
export const CREATE_HOLDERS_LOCK_ID = lockIdForKey('pglock:create-holders-table');
