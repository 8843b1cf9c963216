import type postgres from 'postgres';
import { DatabaseUnavailableError, LockBusyError, LockTimeoutError, UsageError } from './errors.js';
import { formatDuration } from './duration.js';
import { describeHolder, listAdvisoryLocks } from './sql/holders.js';
import { labelOf, resolveLockTarget } from './key/target.js';
import { grantProof, lockCall } from './sql/lock-statements.js';
import { intLiteral } from './sql/literals.js';

// A lock that lives exactly as long as a transaction of the application's own postgres.js client:
// pg_advisory_xact_lock inside sql.begin. No connection of pglock's own, and a transaction stays on
// one server connection even through a transaction-mode pooler (PgBouncer), so it works there.

export interface TransactionLockOptions {
  /** Lock name; hashed to the id with SHA-256, the same id the CLI and acquireLock use. Give this or `lockId`. */
  key?: string;
  /** Raw 64-bit advisory lock id. */
  lockId?: bigint;
  /** Wait for the lock instead of failing fast. */
  wait?: boolean;
  /** Wait at most this long (milliseconds), then throw LockTimeoutError. Implies `wait`. */
  timeoutMs?: number;
}

/** The lock a transaction holds, given to the function with the transaction. */
export interface TransactionLock {
  id: bigint;
  key: string | undefined;
  /** The backend running the transaction (through a pooler: the server connection it was given). */
  backendPid: number;
}

type AnySql = postgres.Sql<any>;

/**
 * Open a transaction on `sql` (`sql.begin`), take the advisory lock in it (fail fast: LockBusyError;
 * `wait`/`timeoutMs`: LockTimeoutError), prove the grant from pg_locks, run `fn` with the
 * transaction; the lock ends exactly when the transaction commits (fn resolved) or rolls back (fn
 * threw, or the lock was busy).
 */
export async function withTransactionLock<T>(
  sql: AnySql, options: TransactionLockOptions, fn: (tx: postgres.TransactionSql<any>, lock: TransactionLock) => Promise<T> | T,
): Promise<T> {
  checkClient(sql);
  if (typeof fn !== 'function') throw new UsageError('withTransactionLock needs a function to run with the lock');
  const { id, key } = resolveLockTarget(options ?? {});
  const { timeoutMs } = options;
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) throw new UsageError(`timeoutMs must be a number of milliseconds, 0 or more, got ${timeoutMs}`);
  const wait = options.wait === true || (timeoutMs !== undefined && timeoutMs > 0);
  const label = labelOf(id, key);
  let began = false;
  try {
    return (await sql.begin(async (tx) => {
      began = true;
      const backendPid = wait ? await waitInTransaction(tx, id, label, timeoutMs) : await tryInTransaction(tx, id, label);
      return fn(tx, { id, key, backendPid });
    })) as T;
  } catch (error) {
    if (!began && (error as { code?: string }).code === 'CONNECTION_ENDED') {
      throw new UsageError('withTransactionLock: the postgres.js client has been ended (sql.end()); use a client that is open', { cause: error });
    }
    throw error;
  }
}

function checkClient(sql: unknown): void {
  const client = sql as ((...args: unknown[]) => unknown) & { begin?: unknown; unsafe?: unknown } | null;
  const usable = typeof client === 'function' && typeof client.begin === 'function' && typeof client.unsafe === 'function';
  if (!usable) {
    const got = client === null ? 'null' : typeof client === 'function' ? 'a function without begin() (a transaction, or another library?)' : typeof client;
    throw new UsageError(`withTransactionLock needs a postgres.js client (what postgres() returns), got ${got}`);
  }
}

async function tryInTransaction(tx: postgres.TransactionSql<any>, id: bigint, label: string): Promise<number> {
  const [row] = await tx.unsafe<{ locked: boolean; pid: number; proven: boolean }[]>(`
    select s.locked, s.pid, s.locked and ${grantProof('s.pid', id, false)} as proven
    from (select ${lockCall('pg_try_advisory_xact_lock', id)} as locked, pg_catalog.pg_backend_pid() as pid offset 0) s`);
  if (row?.locked !== true) {
    const rows = await listAdvisoryLocks(tx, { ids: [id] }).catch(() => []);
    const holders = rows.filter((lock) => lock.granted && lock.pid !== row?.pid).map((lock) => describeHolder(lock));
    throw new LockBusyError(`the lock ${label} is held by ${holders.length > 0 ? holders.join('; ') : 'another session'}`, { holders });
  }
  return provenPid(row, label);
}

// A server-side wait, its lock_timeout set for this statement and put back after it (set_config's
// is_local lasts the whole transaction: the application's own statements must not inherit it).
async function waitInTransaction(tx: postgres.TransactionSql<any>, id: bigint, label: string, timeoutMs: number | undefined): Promise<number> {
  const limit = intLiteral(Math.ceil(timeoutMs ?? 0));
  try {
    const [row] = await tx.unsafe<{ pid: number; proven: boolean }[]>(`
      select w.pid, ${grantProof('w.pid', id, false)} as proven from (
        select ${lockCall('pg_advisory_xact_lock', id)}, pg_catalog.pg_backend_pid() as pid, pg_catalog.set_config('lock_timeout', p.previous, true)
        from (select pg_catalog.current_setting('lock_timeout') as previous, pg_catalog.set_config('lock_timeout', '${limit}', true) offset 0) p
        offset 0
      ) w`);
    return provenPid(row, label);
  } catch (error) {
    if ((error as { code?: string }).code !== '55P03') throw error;
    throw new LockTimeoutError(`timed out after ${formatDuration(timeoutMs ?? 0)} waiting for the lock ${label}`, { cause: error });
  }
}

function provenPid(row: { pid?: number; proven?: boolean } | undefined, label: string): number {
  if (row?.proven !== true) {
    throw new DatabaseUnavailableError(
      `the server said the advisory lock ${label} was granted, but pg_locks does not show it held by this transaction: ` +
        'this server does not implement PostgreSQL advisory locks', { code: 'ENOADVISORY' });
  }
  return row.pid ?? 0;
}
