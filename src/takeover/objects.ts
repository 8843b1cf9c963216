import { lockIdForKey } from '../key/lock-id.js';

// The holder record, kept for the takeover delay (docs/safety.md): one row per lock a pglock holder
// holds or is taking over, in a table pglock creates on first use (schema public, as the run
// record; every object schema-qualified). A holder writes its row in the statement that follows its
// grant (pglock_claim) and, in the transaction of its unlock, marks it released (bound 0), or
// deletes it (a connection of its own, closing, with no delayed start ahead); so a row with a bound
// whose backend no longer holds the lock is a holder that was cut off (backend
// terminated, network cut, crash, failover, pglock killed), and `bound_ms` says how long after
// losing its session it may still run. The one exception, a lock session's row (`token` set): it
// stays armed from one section to the next (a warm section writes nothing), and marks itself
// released only once the lock has not been taken again for a while (session/armed.ts); its backend
// still holding the session's token lock says it released cleanly.

export const HOLDERS_SCHEMA = 'public';
export const HOLDERS_TABLE_NAME = 'pglock_holders';
export const HOLDERS_TABLE = `${HOLDERS_SCHEMA}.${HOLDERS_TABLE_NAME}`;
export const CLAIM_FUNCTION = `${HOLDERS_SCHEMA}.pglock_claim`;

/** The claim function's version, in every JSON it returns (none before 3). */
export const CLAIM_VERSION = 3;

/** What the claim function returns for a warm lock session's section (its row armed, nothing to honour). */
export const ARMED_CLAIM = `{"delayMs": 0, "armed": true, "version": ${CLAIM_VERSION}}`;

/** What it returns for a transaction lock's read with no row to honour. */
export const NOTHING_AHEAD_CLAIM = `{"delayMs": 0, "ahead": false, "version": ${CLAIM_VERSION}}`;

/**
 * The table (and, for a table an older pglock created, its column `token`: two statements); docs/safety.md
 * and the "cannot create" line print it. The column is added only where it is missing: an ALTER TABLE
 * takes the table's exclusive lock even when it has nothing to do, so it would wait for every open
 * transaction that has read the table (a transaction lock's, for as long as its work runs), and
 * every claim on the server would queue behind it.
 */
export const CREATE_HOLDERS_TABLE = `create table if not exists ${HOLDERS_TABLE} (
  lock_id bigint not null,
  backend_pid integer not null,
  key text,
  host text,
  pid integer,
  granted_at timestamptz not null,
  bound_ms bigint not null,
  not_before timestamptz not null,
  token bigint,
  primary key (lock_id, backend_pid)
);
do $pglock$ begin
  if not exists (select from pg_catalog.pg_attribute a where a.attrelid operator(pg_catalog.=) '${HOLDERS_TABLE}'::pg_catalog.regclass
      and a.attname operator(pg_catalog.=) 'token' and not a.attisdropped) then
    alter table ${HOLDERS_TABLE} add column if not exists token bigint;
  end if;
end $pglock$`;

// pglock_claim(lock id, classid, objid, key, host, pid, bound, delay, record): called by a holder
// right after its grant, in a statement of its own (its snapshot taken after the grant). Every other
// row of the lock is an earlier holder: released (bound 0, or a lock session's armed row whose
// backend still holds its token) or cut off. Each is locked first (a holder whose release is still
// committing is waited for, and then reads as released); the start is delayed until the later of its
// delayed start and now + its bound (or + `delay` when the caller fixes one; a released row's bound
// is 0, and a fixed delay is for cut-off holders only) - unless its backend holds the lock now (a
// shared holder alongside). With `record`, those rows are settled (deleted; not a live lock
// session's) and the caller's row written with its bound and its delayed start, which a holder after
// it honours in turn if this one too is cut off, or releases before it (the row keeps its delayed
// start, with bound 0). Without (`record` false: a transaction lock), nothing is written, and with
// no row to honour it returns at once; `record` null (a waiter's call before it queues) writes
// nothing but runs every statement. Returns one JSON object: the delay in milliseconds (0 when the
// caller asked for no delay: `delay` 0 still keeps the record for others), who was cut off, whether
// the row is armed (a lock session's), and the function's version (CLAIM_VERSION: a lock session
// brings an older one up to date). pg_locks, a scan of the server's whole lock table, is read only
// for a row that would delay the start. Volatile, search_path pinned, plans cached per backend.
export const CREATE_CLAIM_FUNCTION = `create or replace function ${CLAIM_FUNCTION}(
  p_lock_id bigint, p_classid oid, p_objid oid, p_key text, p_host text, p_pid integer, p_bound_ms bigint, p_delay_ms bigint,
  p_record boolean
) returns text language plpgsql volatile set search_path = pg_catalog, pg_temp as $claim$
declare
  v_granted timestamptz := pg_catalog.clock_timestamp();
  -- A lock session's token (session setup: takeover/token.ts), or null.
  v_token bigint := nullif(pg_catalog.current_setting('pglock.token', true), '')::pg_catalog.int8;
  v_bound bigint;
  v_live boolean;
  v_others boolean;
  v_armed boolean;
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
  -- A warm lock session's section: its row armed already (its token, this bound and holder), and no
  -- other row to honour (all released, or none; none with a delayed start ahead): one read, no write.
  if p_record and v_token is not null then
    select pg_catalog.bool_or(h.backend_pid operator(pg_catalog.=) pg_catalog.pg_backend_pid() and h.token operator(pg_catalog.=) v_token
          and h.bound_ms operator(pg_catalog.=) p_bound_ms and h.key is not distinct from p_key and h.host is not distinct from p_host
          and h.pid is not distinct from p_pid and h.not_before operator(pg_catalog.<=) v_granted),
        pg_catalog.bool_or(h.backend_pid operator(pg_catalog.<>) pg_catalog.pg_backend_pid()
          and (h.bound_ms operator(pg_catalog.<>) 0 or h.not_before operator(pg_catalog.>) v_granted))
      into v_armed, v_others
      from ${HOLDERS_TABLE} h where h.lock_id operator(pg_catalog.=) p_lock_id;
    if v_armed and not v_others then
      return '${ARMED_CLAIM}';
    end if;
  end if;
  for r in select h.* from ${HOLDERS_TABLE} h
      where h.lock_id operator(pg_catalog.=) p_lock_id and h.backend_pid operator(pg_catalog.<>) pg_catalog.pg_backend_pid()
      for update of h
  loop
    v_bound := case when r.bound_ms operator(pg_catalog.=) 0 then 0 when p_delay_ms operator(pg_catalog.>) 0 then p_delay_ms else r.bound_ms end;
    v_live := false;
    v_until := greatest(r.not_before, v_granted operator(pg_catalog.+) pg_catalog.make_interval(secs => v_bound::pg_catalog.float8 operator(pg_catalog./) 1000));
    if v_until operator(pg_catalog.>) v_granted then
      -- A lock session's row stays armed between its sections. While the session lives, its backend
      -- holds its token, an exclusive two-key advisory lock no other backend takes (takeover/token.ts),
      -- so a shared try of it fails: the session released this lock cleanly (or holds it alongside).
      v_live := case when v_bound operator(pg_catalog.>) 0 and r.token is not null then not pg_catalog.pg_try_advisory_xact_lock_shared(
          (r.token operator(pg_catalog.>>) 32)::pg_catalog.int4, ((r.token operator(pg_catalog.<<) 32) operator(pg_catalog.>>) 32)::pg_catalog.int4)
        else false end;
      if v_live then
        v_until := greatest(r.not_before, v_granted);
      else
        perform from pg_catalog.pg_locks l
          where l.locktype operator(pg_catalog.=) 'advisory' and l.pid operator(pg_catalog.=) r.backend_pid and l.granted
            and l.classid operator(pg_catalog.=) p_classid and l.objid operator(pg_catalog.=) p_objid and l.objsubid operator(pg_catalog.=) 1;
        continue when found;
      end if;
      if v_until operator(pg_catalog.>) v_granted and (v_worst is null or v_until operator(pg_catalog.>) v_worst) then
        v_worst := v_until;
        v_cut_host := r.host;
        v_cut_pid := r.pid;
        v_cut_backend := r.backend_pid;
        v_cut_granted := r.granted_at;
        v_cut_bound := case when v_live then 0 else r.bound_ms end;
      end if;
    end if;
    if p_record and not v_live then
      delete from ${HOLDERS_TABLE} h where h.lock_id operator(pg_catalog.=) r.lock_id and h.backend_pid operator(pg_catalog.=) r.backend_pid;
    end if;
  end loop;
  -- A transaction lock's read (p_record false) with no row to honour: nothing more to do. A waiter's
  -- call before it queues (p_record null) goes on, writing nothing, so that it plans every statement.
  if not p_record and v_worst is null then
    return '${NOTHING_AHEAD_CLAIM}';
  end if;
  v_worst := greatest(v_worst, v_granted);
  v_start := v_worst;
  -- This backend's own row: a delayed start it took over earlier and released within still stands.
  -- A lock session's row armed already (read above: its token, this bound and holder) with nothing
  -- new to wait for is left as it is. Run with p_record null too, writing nothing: a waiter's call
  -- before it queues plans them all.
  if v_armed and v_worst operator(pg_catalog.=) v_granted then
    v_start := v_granted;
  else
    update ${HOLDERS_TABLE} h set key = p_key, host = p_host, pid = p_pid, granted_at = v_granted, bound_ms = p_bound_ms,
        not_before = greatest(h.not_before, v_worst), token = v_token
      where p_record and h.lock_id operator(pg_catalog.=) p_lock_id and h.backend_pid operator(pg_catalog.=) pg_catalog.pg_backend_pid()
      returning h.not_before into v_own;
    if found then
      v_start := v_own;
    else
      insert into ${HOLDERS_TABLE} as h (lock_id, backend_pid, key, host, pid, granted_at, bound_ms, not_before, token)
        select p_lock_id, pg_catalog.pg_backend_pid(), p_key, p_host, p_pid, v_granted, p_bound_ms, v_worst, v_token where p_record
        on conflict (lock_id, backend_pid) do update set key = excluded.key, host = excluded.host, pid = excluded.pid,
          granted_at = excluded.granted_at, bound_ms = excluded.bound_ms, not_before = excluded.not_before, token = excluded.token;
    end if;
  end if;
  return pg_catalog.json_build_object(
    'delayMs', case when p_delay_ms operator(pg_catalog.=) 0 then 0 else greatest(0, pg_catalog.ceil(pg_catalog.date_part('epoch', v_start operator(pg_catalog.-) pg_catalog.clock_timestamp()) operator(pg_catalog.*) 1000))::pg_catalog.int8 end,
    'until', v_start, 'ahead', v_start operator(pg_catalog.>) v_granted, 'armed', p_record and v_token is not null,
    'cutHost', v_cut_host, 'cutPid', v_cut_pid, 'cutBackendPid', v_cut_backend,
    'cutGrantedAt', v_cut_granted, 'cutBoundMs', v_cut_bound, 'version', ${CLAIM_VERSION})::pg_catalog.text;
end
$claim$`;

/** Serializes the pglock processes creating the objects (concurrent DDL can collide in the catalogs). */
export const CREATE_HOLDERS_LOCK_ID = lockIdForKey('pglock:create-holders-table');
