import type postgres from 'postgres';
import { UsageError } from './errors.js';
import type { LockTarget } from './key/target.js';
import {
  type LockChoice, type WaitPlan, type ClaimTarget, busyError, claimRequestOf, describeDelay, findHolders, notAdvisoryErrorFrom, noteProven, provenPidsOf, remaining, resolveChoice,
} from './lock/index.js';
import { sleep } from './sleep.js';
import { permissionErrorFor } from './lock/privilege.js';
import { type LockStatement, takeLock } from './sql/lock-statements.js';
import { type Claim, type ClaimRequest, type TakeoverDelay, RECORD_UNUSABLE, claimCallStatement, claimInTransactionStatements, isMissingRecord, parseClaim } from './takeover/index.js';

// A lock that lives exactly as long as a transaction of the application's own postgres.js client:
// pg_advisory_xact_lock inside sql.begin. No connection of pglock's own, and a transaction stays on
// one server connection even through a transaction-mode pooler (PgBouncer), so it works there.
//
// The takeover delay (docs/safety.md): a transaction lock honours the holder record (it waits out a
// cut-off session holder's bound before fn runs) but writes none of its own: its work is its
// transaction, and a transaction whose connection dies is rolled back, so nothing it did in the
// database outlives its lock. Work fn does outside the database is the application's to stop.

/**
 * Which lock and whether to wait: `key` (hashed to the id with SHA-256, the same id the CLI and
 * acquireLock use) or `lockId`; `wait`; `timeoutMs` (then LockTimeoutError; implies `wait`).
 */
export interface TransactionLockOptions extends LockChoice {
  /** After a session holder that was cut off: 'auto' (default) waits out its bound before fn runs; 0 does not wait. */
  lockDelay?: 'auto' | 0;
  /** Called when fn's start is delayed because the previous holder was cut off. */
  onDelay?: (delay: TakeoverDelay) => void;
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
  const request = resolveChoice(options);
  let began = false;
  for (;;) {
    const known = recordUsable.has(sql);
    try {
      return (await sql.begin(async (tx) => {
        began = true;
        const taken = await takeInTransaction(tx, sql, request, options.lockDelay !== 0);
        if (taken.claim !== undefined && taken.claim.delayMs > 0) {
          options.onDelay?.(describeDelay(claimTarget(request), taken.claim));
          await sleep(taken.claim.delayMs);
        }
        return fn(tx, { id: request.id, key: request.key, backendPid: taken.pid });
      })) as T;
    } catch (error) {
      // The record was there and is gone (pglock's objects dropped): that transaction failed before
      // fn ran; once more, asking first.
      if (known && error instanceof RecordGone) continue;
      if (!began && (error as { code?: string }).code === 'CONNECTION_ENDED') {
        throw new UsageError('withTransactionLock: the postgres.js client has been ended (sql.end()); use a client that is open', { cause: error });
      }
      throw error instanceof RecordGone ? error.cause : error;
    }
  }
}

/** The claim function called directly failed: the record is no longer there. */
class RecordGone extends Error {}

function checkClient(sql: unknown): void {
  const client = sql as ((...args: unknown[]) => unknown) & { begin?: unknown; unsafe?: unknown } | null;
  const usable = typeof client === 'function' && typeof client.begin === 'function' && typeof client.unsafe === 'function';
  if (!usable) {
    const got = client === null ? 'null' : typeof client === 'function' ? 'a function without begin() (a transaction, or another library?)' : typeof client;
    throw new UsageError(`withTransactionLock needs a postgres.js client (what postgres() returns), got ${got}`);
  }
}

// The one lock statement, at transaction level: tried or waited for (lock_timeout for this statement
// only) and proven from pg_locks in the same statement, with the holder record read in it too once
// the client's record is known usable (the function's own statements see what is committed after
// the grant), else right behind it in the same round trip. On a client that prepares statements
// (postgres.js's default) the statement is prepared.
async function takeInTransaction(tx: postgres.TransactionSql<any>, client: AnySql, request: LockTarget & WaitPlan, honour: boolean): Promise<{ pid: number; claim: Claim | undefined }> {
  const prepared = (client as { options?: { prepare?: unknown } }).options?.prepare === true;
  const known = honour && recordUsable.has(client);
  const call = known ? claimCallStatement(readOnlyClaim(request)) : undefined;
  // Written out, not spread (a warm section's JavaScript is part of what it costs).
  const statement: LockStatement = { id: request.id, shared: false, wait: request.wait, level: 'transaction', prepared };
  if (request.deadline !== undefined) statement.timeoutMs = remaining(request).timeoutMs;
  if (!request.wait) statement.provenPids = provenPidsOf(client);
  if (call) statement.follow = { sql: call.call, values: call.values };
  const taking = takeLock(tx, statement);
  const claiming = honour && !known ? askClaim(tx, request) : undefined;
  claiming?.catch(() => undefined);
  const result = await taking.catch((error: unknown) => {
    // The record was there and is gone (pglock's objects dropped, or this role's grant revoked).
    if (known && (isMissingRecord(error) || (error as { code?: unknown }).code === '42501')) {
      recordUsable.delete(client);
      throw new RecordGone('the holder record is gone', { cause: error });
    }
    throw permissionErrorFor(error, undefined) ?? error;
  });
  // A wait that timed out has aborted the transaction: nothing more can be asked in it.
  if (!result.granted) throw busyError(request, request.wait ? undefined : await findHolders(tx, [request.id], result.backendPid));
  if (!result.proven) throw await notAdvisoryErrorFrom(tx, request.label, 'the server', 'transaction');
  if (result.backendPid !== undefined) noteProven(client, result.backendPid);
  const claim = known ? parseClaim([{ claim: result.follow as string | null }]) : await claiming;
  if (!known && claim !== undefined) recordUsable.set(client, true);
  return { pid: result.backendPid ?? 0, claim };
}

// Clients whose database has the holder record, usable by their role: their transactions call the
// claim function in the lock statement. The others ask first, in a DO block (compiled anew each
// time, so dearer) that cannot fail the application's transaction when the record is not there; once
// it is there, a later call uses the function. Were pglock's objects dropped while in use, the lock
// statement fails that transaction before fn runs: withTransactionLock then runs it again, asking first.
const recordUsable = new WeakMap<object, true>();

// The holder record, read (nothing written) behind the lock statement, in the same round trip, by a
// block that cannot fail: undefined when the record is not there or not usable by this role.
async function askClaim(tx: postgres.TransactionSql<any>, request: LockTarget & WaitPlan): Promise<Claim | undefined> {
  const claim = readOnlyClaim(request);
  const results = (await tx.unsafe(claimInTransactionStatements(claim))) as unknown as { claim?: string | null }[][];
  const rows = results[1] ?? [];
  if (rows[0]?.claim === RECORD_UNUSABLE) return undefined;
  return parseClaim(rows);
}

function claimTarget(request: LockTarget & WaitPlan): ClaimTarget {
  return { id: request.id, key: request.key, label: request.label, shared: false, takeover: NO_BOUND };
}

// A transaction lock records nothing of its own: it only honours the others' rows.
const NO_BOUND = { delay: 'auto', boundMs: 0 } as const;

function readOnlyClaim(request: LockTarget & WaitPlan): ClaimRequest {
  const claim = claimRequestOf(claimTarget(request));
  claim.record = false;
  return claim;
}
