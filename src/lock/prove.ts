import { type ConnectionConfig, type Session, describeTarget, probeBackendPid } from '../connection/index.js';
import { DatabaseUnavailableError } from '../errors.js';
import { grantProof, isLockHeld } from '../sql/lock-statements.js';
import { sleep } from '../sleep.js';
import type { SqlClient } from '../sql/client.js';
import { intLiteral } from '../sql/literals.js';
import { type Engine, askEngine } from './engine.js';
import { settleStatement } from '../takeover/index.js';
import { inline } from '../sql/statement.js';

/**
 * The grant was not shown in pg_locks for the backend that took it: a server whose advisory-lock
 * functions say yes without locking (CockroachDB's stubs, say) would otherwise make pglock lie.
 * `server` names where it was asked; `holder` is what should have shown holding it.
 */
export function notAdvisoryError(label: string, server: string, holder: 'session' | 'transaction' = 'session', engine?: Engine): DatabaseUnavailableError {
  const what = engine === undefined ? 'this server does not implement PostgreSQL advisory locks'
    : `this server is ${engine.name} (${engine.version}), not PostgreSQL: ${engine.why}`;
  return new DatabaseUnavailableError(
    `${server} said the advisory lock ${label} was granted, but pg_locks does not show it held by this ${holder}: ` +
      `${what}, and pglock cannot prove it holds the lock`,
    { code: 'ENOADVISORY' },
  );
}

/** notAdvisoryError, naming the engine the server says it is (one more statement, on this failure only). */
export async function notAdvisoryErrorFrom(sql: SqlClient, label: string, server: string, holder: 'session' | 'transaction' = 'session'): Promise<DatabaseUnavailableError> {
  return notAdvisoryError(label, server, holder, await askEngine(sql));
}

/** What a proof needs of a grant on a session (a lock's own connection, or a lock session's). */
export interface SessionGrant {
  session: Session;
  backendPid: number | undefined;
  proven: boolean;
  /** Held in a transaction: every statement of it runs on one server connection, poolers included. */
  transaction?: boolean;
}

/**
 * Prove a grant: shown in pg_locks for the backend that took it, in the same statement; and through
 * anything but a direct connection (the startup's BackendKeyData names the very backend that
 * granted the lock), later statements still reach that backend. `heldId`: the id granted (a slot's).
 */
export async function proveGrant(
  grant: SessionGrant, lock: { id: bigint; shared: boolean; label: string }, config: ConnectionConfig, applicationName: string,
): Promise<void> {
  const { session } = grant;
  if (!grant.proven) throw await notAdvisoryErrorFrom(session.sql, lock.label, describeTarget(config, session.host));
  if (grant.transaction) return;
  if (!session.proxied && grant.backendPid === session.backendPid) return;
  await verifyOwnership(session, lock.id, lock.shared, config, applicationName, grant.backendPid);
}

// A pooler in transaction or statement mode runs each statement on whichever backend is free:
// the lock would belong to a backend pglock no longer talks to. Ask from a second statement.
// `grantedOn`: the backend that ran the lock statement (and the claim behind it), if it said.
export async function verifyOwnership(
  session: Session, id: bigint, shared: boolean, config: ConnectionConfig, applicationName: string, grantedOn = session.backendPid,
): Promise<void> {
  const heldHere = await isLockHeld(session.sql, id, shared, session.backendPid);
  if (heldHere && !session.proxied) return;
  if (heldHere && (await probeBackendPid(config, session.host, applicationName)) !== session.backendPid) return;
  // Given up before anything ran under it: the claim's row, if one was written, is no cut-off holder
  // (marked before the lock goes, so the next holder never reads it as one).
  await session.sql.unsafe(inline(settleStatement(id, { durable: true, backendPid: grantedOn }))).catch(() => undefined);
  await giveBack(session, id, shared, grantedOn).catch(() => undefined);
  throw new DatabaseUnavailableError(
    `the lock was granted, but ${describeTarget(config)} does not keep pglock on one server session: ` +
      'a connection pooler in transaction or statement mode (e.g. PgBouncer) cannot hold session locks; ' +
      'connect to PostgreSQL directly or through a session-mode pool',
    { code: 'EPOOLER' },
  );
}

// The lock stays on the pooled server connection that took it, `holder`, where nobody else would
// ever release it. Each statement here lands wherever the pooler sends it: landed on `holder`, it
// unlocks there (a pool hands its idle server connections out in turn, or the last one used
// first). Not reached in a few tries, `holder` is ended, the last resort: a server connection the
// pooler has not yet seen go may be handed to a client, ours too, whose statement then fails. Then
// wait (briefly) until it no longer holds the lock, so that the lock taken again right after, in
// a transaction, is not refused by this grant of its own.
async function giveBack(session: Session, id: bigint, shared: boolean, holder: number): Promise<void> {
  const pid = intLiteral(holder);
  const holds = grantProof(pid, id, shared);
  const unlock = `pg_catalog.pg_advisory_unlock${shared ? '_shared' : ''}(${intLiteral(id)}::pg_catalog.int8)`;
  const held = async (expression: string) => (await session.sql.unsafe<{ held: boolean }[]>(`select ${expression} as held`))[0]?.held === true;
  for (let attempt = 0; attempt < 8; attempt++) {
    if (!(await held(`case when pg_catalog.pg_backend_pid() operator(pg_catalog.=) ${pid} then not ${unlock} and ${holds} else ${holds} end`))) return;
  }
  await session.sql.unsafe(`select pg_catalog.pg_terminate_backend(${pid}) where ${holds}`);
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(20)) {
    if (!(await held(holds))) return;
  }
}

// The backends that have shown a real grant in pg_locks, per owner: a lock session's connection (a
// Session: a new connection starts afresh), or a withTransactionLock client (its pool's connections,
// or through a pooler the server connections it was given). A warm try on one of them skips the
// scan of the server's whole lock table (LockStatement.provenPids); a new backend is proven first.
const provenBackends = new WeakMap<object, Set<number>>();
const MAX_PROVEN_BACKENDS = 64;

/** The backends `owner` has seen prove a grant. */
export function provenPidsOf(owner: object): number[] {
  const known = provenBackends.get(owner);
  return known === undefined ? [] : [...known];
}

/** A grant on `pid` was proven (or was on a backend already proven) for `owner`. */
export function noteProven(owner: object, pid: number): void {
  const known = provenBackends.get(owner) ?? new Set<number>();
  if (known.has(pid)) return;
  if (known.size >= MAX_PROVEN_BACKENDS) known.delete(known.values().next().value!);
  known.add(pid);
  provenBackends.set(owner, known);
}
