// The session setup statement: the one statement every new connection of pglock's sends first
// (settings, the standby check, and a lock attempt with its proof), and the statement that may
// follow it in the same query message (the holder's claim).
import type postgres from 'postgres';
import { intLiteral } from '../sql/literals.js';
import { isRetryable } from './errors.js';

type Client = postgres.Sql;

/**
 * A lock attempt for the session setup statement, as SQL fragments the connection layer does not
 * read: `attempt`, a boolean expression that tries the lock (run on a primary only); `proof`, a
 * boolean expression over the setup row's backend pid column `s.pid` that is true when the grant
 * shows in pg_locks. Built by the lock core (lock/connect.ts).
 */
export interface SetupLock {
  attempt: string;
  proof: string;
  /**
   * A statement sent in the setup's own query message, as its second statement (still a statement
   * of its own, with its own snapshot): its rows or its error come back as `setupFollow`, never
   * failing the session. The two are one implicit transaction: if the follow fails, the setup's
   * settings are undone with it, so what `attempt` was granted is given back (`undo`) and the setup
   * sent again, without the follow, whose outcome is that error.
   */
  follow?: string;
  /** A boolean expression that gives back what `attempt` was granted (false when it was not). */
  undo: string;
}

/**
 * A lock session's token: two int4 keys, the second random, taken by the setup statement as an
 * exclusive advisory lock (pg_locks: objsubid 2) for the life of the backend, and then kept as one
 * int8 (`id`) in the session setting pglock.token, which the holder record keeps
 * (takeover/objects.ts). Not taken (another session drew the same token), the setting is empty.
 */
export interface SessionToken {
  id: bigint;
  key1: number;
  key2: number;
}

/** What the setup statement is made of. */
export interface SetupOptions {
  /** Sets server-side keepalives and liveness checks so a vanished pglock is noticed quickly. */
  heartbeatMs: number;
  setupLock?: SetupLock | undefined;
  /** No session-level settings (a transaction-mode pooler). */
  noSessionSettings?: boolean | undefined;
  token?: SessionToken | undefined;
}

type SetupRow = { pid: number; version: number; standby: boolean; locked: boolean | null; proven: boolean | null };

/**
 * Send the setup statement (and the setup lock's follow) on a connection being opened: its row, and
 * the follow's rows or error. `dropped`: whether the connection has closed meanwhile.
 */
export async function setUp(client: Client, options: SetupOptions, dropped: () => boolean) {
  const follow = options.setupLock?.follow;
  return runSetup(client, options, { then: follow }).catch(async (error: unknown) => {
    // The follow failed (the server's answer, not a lost connection): the settings were undone with
    // it, and a lock the setup took may stand. Give that back and set up again, in one message.
    if (follow === undefined || !isStatementError(error) || dropped()) throw error;
    const again = await runSetup(client, options, { first: options.setupLock!.undo });
    return { ...again, setupFollow: { error } };
  });
}

// The setup statement in one query message, with a statement `first` before it or `then` after it.
async function runSetup(client: Client, options: SetupOptions, around: { first?: string; then?: string | undefined }): Promise<{
  result: postgres.RowList<SetupRow[]>; setupFollow: { rows: readonly Record<string, unknown>[] } | undefined;
}> {
  const answer = await setupStatement(client, options, around);
  if (around.first === undefined && around.then === undefined) return { result: answer, setupFollow: undefined };
  // Two statements: one result each.
  const [one, two] = answer as unknown as (typeof answer)[];
  return around.first === undefined ? { result: one!, setupFollow: { rows: two! } } : { result: two!, setupFollow: undefined };
}

// Per-session settings, in one statement. Role-level timeouts would kill an idle lock session or
// a long wait, so they are switched off. Keepalives, tcp_user_timeout and (PG 14+)
// client_connection_check_interval make the server drop a silent pglock within a few heartbeats.
// The same statement says whether the server is a standby (pglock locks only on a primary). With
// setupLock it also tries the lock (on a primary only), and proves the grant from pg_locks, so a run
// that does not wait needs one round trip after the startup. Every function and relation is
// schema-qualified: a role's search_path cannot put another pg_try_advisory_lock in front. The lock
// call comes early in the text: pg_stat_activity keeps only the first 1 kB of a statement, and
// `pglock status` looks for the call there (sql/holders.ts). With `token` (a lock session's
// connection), it tries the token's lock (on a primary only) and, taken, sets pglock.token.
function setupStatement(sql: Client, options: SetupOptions, around: { first?: string; then?: string | undefined } = {}) {
  const { heartbeatMs, setupLock, token } = options;
  const noSettings = options.noSessionSettings === true;
  const beat = Math.ceil(heartbeatMs > 0 ? heartbeatMs : 5000);
  const seconds = intLiteral(Math.max(1, Math.ceil(beat / 1000)));
  const lock = setupLock === undefined ? 'null::pg_catalog.bool' : `case when pg_catalog.pg_is_in_recovery() then null else ${setupLock.attempt} end`;
  const proof = setupLock === undefined ? 'null::pg_catalog.bool' : `s.locked and ${setupLock.proof}`;
  const set = (name: string, value: string) => (noSettings ? 'null' : `pg_catalog.set_config('${name}', '${value}', false)`);
  return sql.unsafe<SetupRow[]>(`${around.first === undefined ? '' : `select ${around.first};`}
    select s.pid, s.version, s.standby, s.locked, ${proof} as proven from (
      select ${lock} as locked, pg_catalog.pg_backend_pid() as pid, v.version, pg_catalog.pg_is_in_recovery() as standby,
        ${set('statement_timeout', '0')},
        ${set('lock_timeout', '0')},
        ${set('idle_in_transaction_session_timeout', '0')},
        case when v.version operator(pg_catalog.>=) 140000 then ${set('idle_session_timeout', '0')} end,
        ${set('tcp_keepalives_idle', seconds)},
        ${set('tcp_keepalives_interval', seconds)},
        ${set('tcp_keepalives_count', '2')},
        case when v.version operator(pg_catalog.>=) 120000 then ${set('tcp_user_timeout', intLiteral(beat * 2))} end,
        case when v.version operator(pg_catalog.>=) 140000 then ${set('client_connection_check_interval', intLiteral(beat))} end${token === undefined ? '' : `,
        case when not pg_catalog.pg_is_in_recovery() then pg_catalog.set_config('pglock.token',
          case when pg_catalog.pg_try_advisory_lock(${intLiteral(token.key1)}::pg_catalog.int4, ${intLiteral(token.key2)}::pg_catalog.int4) then '${token.id}' else '' end, false) end`}
      from (select pg_catalog.current_setting('server_version_num')::pg_catalog.int4 as version) v
      offset 0
    ) s${around.then === undefined ? '' : `;\n${around.then}`}`);
}

// An error of a statement (severity ERROR: the session goes on), as opposed to a FATAL one at
// startup (authentication, a missing database) or the connection failing.
function isStatementError(error: unknown): boolean {
  const { code, severity } = (error ?? {}) as { code?: unknown; severity?: unknown };
  return severity === 'ERROR' && typeof code === 'string' && !isRetryable(error);
}
