import { hostname } from 'node:os';
import {
  type ConnectionConfig, type Env, type ReservedSql, type Session, describeConnectError, describeTarget, isRetryable,
  applicationName, defaultApplicationName, openSession, pickDatabaseUrl, probeBackendPid, resolveConnectionConfig,
} from '../connection/index.js';
import { labelOf, resolveLockTarget } from '../key/target.js';
import { displayKey } from '../key/display-key.js';
import { DatabaseUnavailableError, PglockError, LockBusyError, LockLostError, LockTimeoutError, LockWaitAbortedError, RecentRunError, UsageError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { MAX_LIMIT, lockIdForKey, slotIds } from '../key/lock-id.js';
import { type RunEnd, type RunRecord, describeRun, endRunStatement, listRuns, startRun } from '../runs/index.js';
import { describeHolder, listAdvisoryLocks } from '../sql/holders.js';
import { grantProof, isLockHeld, releaseLock, takeLock } from '../sql/lock-statements.js';
import { intLiteral } from '../sql/literals.js';
import { permissionErrorFor } from './privilege.js';
import { takeSlot } from './slots.js';
import { watchLock } from './watch.js';

/** Where and how a lock's connection is made: shared by acquireLock, openLockSession and elect. */
export interface LockConnectionOptions {
  /** Connection URL; else PGLOCK_DATABASE_URL, DATABASE_URL, then the libpq PG* variables. */
  url?: string;
  /** An already resolved connection (overrides `url` and the environment). */
  connection?: ConnectionConfig;
  /** Environment to read connection settings from (default: process.env). */
  env?: Env;
  /** Keep retrying the connection for this long (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** How often to check that the lock is still held (default 5 000 ms; 0 = only on disconnect). */
  heartbeatMs?: number;
  /** application_name of the lock's connection (default `pglock:<key>@<host>:<pid>`). */
  applicationName?: string;
}

export interface AcquireOptions extends LockConnectionOptions {
  /** Lock name; hashed to the id with SHA-256 (see lockIdForKey). Give this or `lockId`. */
  key?: string;
  /** Raw 64-bit advisory lock id, for interop with code that already locks by number. */
  lockId?: bigint;
  /** Wait for the lock instead of failing fast. */
  wait?: boolean;
  /** Wait at most this long (milliseconds), then throw LockTimeoutError. Implies `wait`. */
  timeoutMs?: number;
  /** Take the shared form of the lock. */
  shared?: boolean;
  /** Counting semaphore: let up to this many holders in at once (slots; see key/lock-id.ts slotIds). */
  limit?: number;
  /** After acquiring, take the next fencing token for the key (kept in the run record). Implies `record`. */
  fencingToken?: boolean;
  /** Keep the run record: the key's last run, its start, end, host and pid (see runs/). */
  record?: boolean;
  /**
   * Run only if no run of this key started less than this long ago (by the database's clock);
   * else reject with RecentRunError (a LockBusyError) carrying the last run. Implies `record`.
   */
  minIntervalMs?: number;
  /**
   * Hold the lock in a transaction kept open (pg_advisory_xact_lock) instead of as a session lock:
   * for a transaction-mode pooler (PgBouncer), where a session lock would belong to a server
   * connection pglock no longer talks to. 'auto' (default): only when such a pooler is detected.
   * Not with `record`, `fencingToken`, `minIntervalMs` or `limit`.
   */
  transaction?: boolean | 'auto';
  /** With a run record: keep this many runs of the key (default 100; 0 or 1: only the last). */
  history?: number;
  /** Cancels connecting or waiting; the acquire then rejects with LockWaitAbortedError. */
  signal?: AbortSignal;
  /** Called once if the lock is lost while held (connection closed, check failed). */
  onLost?: (error: LockLostError) => void;
  /** Called before each connection retry. */
  onRetry?: (reason: string, delayMs: number, attempt: number) => void;
  /** Called when a transaction-mode pooler was detected and the lock is taken in a transaction instead. */
  onTransactionMode?: (reason: string) => void;
  /** Called when a waiter lost its connection before the grant and connects again. */
  onReconnect?: (reason: string) => void;
  /**
   * Called each time a connection attempt has started (its socket is connecting): work done then
   * overlaps the server's side of the handshake (the CLI spawns the command's launcher).
   */
  onConnecting?: () => void;
}

/** A held advisory lock on its own dedicated connection. Release it, or `await using` it. */
export class Lock implements AsyncDisposable {
  /** The lock id held: the key's id, or with a limit the id of the slot held. */
  readonly id: bigint;
  readonly key: string | undefined;
  readonly shared: boolean;
  /** With a limit: the slot held (0 to limit − 1). */
  readonly slot: number | undefined;
  /**
   * With a run record (record, fencingToken or minIntervalMs): a number larger than every earlier
   * recorded holder's for this key.
   */
  readonly fencingToken: bigint | undefined;
  /** With a run record: the key's run before this one, if any. */
  readonly previousRun: RunRecord | undefined;
  readonly backendPid: number;
  /** True when the lock is held in an open transaction (a transaction-mode pooler), ended by release. */
  readonly transaction: boolean;
  /** When the grant was proven (the heartbeat tells `pglock status` so). */
  readonly heldSince = new Date();
  /** The server the lock is held on (one of the connection's hosts). */
  readonly server: { host: string; port: number };
  /** Aborted when the lock is lost: pass it to work that must stop without the lock. */
  readonly signal: AbortSignal;
  /** Resolves with the reason if the lock is lost while held; never rejects. */
  readonly lost: Promise<LockLostError>;
  readonly #session: Session;
  readonly #watch: { stop(): void; lose(reason: string): void };
  readonly #lostController = new AbortController();
  #state: 'held' | 'lost' | 'released' = 'held';
  #release: Promise<void> | undefined;
  #unlocked: Promise<void> | undefined;
  readonly #run: RecordedRun | undefined;
  #lostRecorded: Promise<void> = Promise.resolve();

  constructor(session: Session, held: HeldLock, heartbeatMs: number, onLost?: (error: LockLostError) => void) {
    const { id, shared } = held;
    this.#session = session;
    this.id = id;
    this.key = held.key;
    this.shared = shared;
    this.slot = held.slot;
    this.#run = held.run;
    this.fencingToken = held.run?.fencingToken;
    this.previousRun = held.run?.previous;
    this.backendPid = held.backendPid;
    this.transaction = held.transaction;
    this.server = { host: session.host.host, port: session.host.port };
    this.signal = this.#lostController.signal;
    let resolveLost!: (error: LockLostError) => void;
    this.lost = new Promise((resolve) => (resolveLost = resolve));
    this.#watch = watchLock(session, {
      id,
      shared,
      heartbeatMs,
      heldSince: this.heldSince,
      backendPid: held.backendPid,
      onLost: (reason) => {
        if (this.#state !== 'held') return;
        this.#state = 'lost';
        const error = new LockLostError(`lost the lock ${this.describe()}: ${reason}`);
        if (this.#run) this.#lostRecorded = this.#run.recordElsewhere({ outcome: 'lock-lost' }).catch(() => undefined);
        this.#lostController.abort(error);
        resolveLost(error);
        onLost?.(error);
        void this.#session.close(0);
      },
    });
  }

  /** The locked connection, for queries inside the critical section. */
  get sql(): ReservedSql {
    if (this.#state !== 'held') throw new LockLostError(`the lock ${this.describe()} is ${this.#state}; its connection is gone`);
    return this.#session.sql;
  }

  get isHeld(): boolean {
    return this.#state === 'held';
  }

  /**
   * Treat the lock as lost (a check outside the lock's own session says it no longer excludes
   * others, such as the primary check): abort the signal, close the connection.
   */
  abandon(reason: string): void {
    this.#watch.lose(reason);
  }

  /**
   * Release the lock and close its connection. Safe to call more than once. With
   * `waitForClose: false` it resolves as soon as the server has confirmed the unlock and the
   * connection's Terminate message is sent, without waiting for the server to close the socket
   * (for a caller that is about to exit). With a run record, `end` is how the run ended (default
   * `released`), written in the same round trip as the unlock.
   */
  release(options: { waitForClose?: boolean; end?: RunEnd } = {}): Promise<void> {
    this.#release ??= this.#doRelease(options.end ?? { outcome: 'released' });
    return options.waitForClose === false ? this.#unlocked! : this.#release;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  describe(): string {
    return labelOf(this.id, this.key, this.slot);
  }

  #doRelease(end: RunEnd): Promise<void> {
    this.#watch.stop();
    const wasHeld = this.#state === 'held';
    if (wasHeld) this.#state = 'released';
    const recordEnd = this.#run === undefined ? undefined : endRunStatement(this.#run.id, this.#run.fencingToken, end);
    // A lost lock's end ("lock lost") is being written from another connection: wait for it.
    const unlock = wasHeld && !this.#session.isClosed()
      ? releaseLock(this.#session.sql, this.id, this.shared, recordEnd, this.transaction)
      : this.#lostRecorded.then(() => true);
    // Close whatever the unlock's outcome (closing the session releases the lock too).
    const closed = unlock.then(() => undefined, () => undefined).then(() => this.#session.close());
    // postgres.js sends Terminate within a few microtasks of end(); one turn of the event loop later
    // it is on the wire, so the server logs a clean disconnect even if the caller exits at once.
    this.#unlocked = unlock.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    const released = Promise.all([unlock, closed]).then(() => undefined);
    // Callers await one of the two; neither may become an unhandled rejection.
    this.#unlocked.catch(() => undefined);
    released.catch(() => undefined);
    return released;
  }
}

interface HeldLock {
  id: bigint;
  backendPid: number;
  /** Held in an open transaction (committed on release). */
  transaction: boolean;
  key: string | undefined;
  shared: boolean;
  slot: number | undefined;
  run: RecordedRun | undefined;
}

/** A run whose start is in the run record, under the key's id. */
interface RecordedRun {
  id: bigint;
  fencingToken: bigint;
  previous: RunRecord | undefined;
  /** Write the run's end from a new connection (the lock's own is gone). */
  recordElsewhere(end: RunEnd): Promise<void>;
}

/** What one acquire asks for, resolved and checked before connecting. */
interface LockRequest {
  id: bigint;
  key: string | undefined;
  label: string;
  config: ConnectionConfig;
  shared: boolean;
  limit: number;
  wait: boolean;
  timeoutMs: number | undefined;
  /** With a timeout: when the wait ends (Date.now() scale). */
  deadline: number | undefined;
  heartbeatMs: number;
  applicationName: string;
  /** Keep the run record, and why (for the message when the table cannot be written). */
  record: string | undefined;
  minIntervalMs: number | undefined;
  transaction: boolean | 'auto';
  options: AcquireOptions;
}

/** A lock statement's outcome, on the session that ran it. */
interface Grant {
  session: Session;
  granted: boolean;
  backendPid: number | undefined;
  proven: boolean;
  slot?: number;
  transaction?: boolean;
}

/**
 * Open a dedicated connection to a primary and take the advisory lock on it.
 * Rejects with LockBusyError when the lock is held elsewhere (fail fast, the default),
 * LockTimeoutError when `timeoutMs` runs out, DatabaseUnavailableError when it cannot connect.
 *
 * The steps: resolve → connect (to a primary) → take (try, wait, or a slot) → prove (the grant
 * is in pg_locks, on this backend) → record (fencing token) → watch (the Lock). A waiter that
 * loses its connection before the grant holds nothing: it reconnects and waits again.
 */
export async function acquireLock(options: AcquireOptions): Promise<Lock> {
  const request = resolveRequest(options);
  for (;;) {
    const first = await connect(request);
    let grant: Grant | undefined;
    try {
      grant = await take(request, first, request.transaction === true || (await isTransactionPooler(request, first)));
      if (!grant.granted) throw await notGranted(request, grant.session);
      if (options.signal?.aborted) throw new LockWaitAbortedError('cancelled just as the lock was granted');
      try {
        await prove(request, grant);
      } catch (error) {
        if (!(error instanceof DatabaseUnavailableError && error.code === 'EPOOLER' && canHoldInTransaction(request))) throw error;
        grant = await takeInTransaction(request, grant.session, error);
        if (!grant.granted) throw await notGranted(request, grant.session);
        await prove(request, grant);
      }
      const run = await recordStart(request, grant.session);
      const heldId = grant.slot === undefined ? request.id : slotIds(request.id, request.limit)[grant.slot]!;
      return new Lock(grant.session, {
        id: heldId, key: request.key, shared: request.shared, slot: grant.slot, run,
        backendPid: grant.backendPid ?? grant.session.backendPid, transaction: grant.transaction === true,
      }, request.heartbeatMs, options.onLost);
    } catch (error) {
      if (grant && grant.session !== first) await grant.session.close(0);
      await first.close(0);
      if (error instanceof PglockError) throw error;
      if (shouldReconnect(request, error)) {
        options.onReconnect?.(`lost the connection to ${describeTarget(request.config, first.host)} while waiting (${describeConnectError(error)}); connecting again`);
        continue;
      }
      throw permissionErrorFor(error, request.config.user) ?? new DatabaseUnavailableError(`lost the connection to ${describeTarget(request.config, first.host)} while taking the lock: ${describeConnectError(error)}`, { cause: error });
    }
  }
}

function resolveRequest(options: AcquireOptions): LockRequest {
  const { id, key } = resolveLockTarget(options);
  const env = options.env ?? process.env;
  const config = options.connection ?? resolveConnectionConfig(pickDatabaseUrl(options.url, env), env);
  const shared = options.shared ?? false;
  const limit = options.limit ?? 1;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new UsageError(`limit must be a whole number from 1 to ${MAX_LIMIT}, got ${limit}`);
  if (limit > 1 && shared) throw new UsageError('a limit and a shared lock cannot be combined');
  const { minIntervalMs } = options;
  if (minIntervalMs !== undefined && !(Number.isSafeInteger(minIntervalMs) && minIntervalMs > 0)) {
    throw new UsageError(`minIntervalMs must be a whole number of milliseconds above 0, got ${minIntervalMs}`);
  }
  if (options.history !== undefined && !(Number.isSafeInteger(options.history) && options.history >= 0)) {
    throw new UsageError(`history must be a whole number of runs from 0 up, got ${options.history}`);
  }
  if (minIntervalMs !== undefined && shared) throw new UsageError('a minimum interval between runs and a shared lock cannot be combined (shared holders run together)');
  const timeoutMs = options.timeoutMs;
  const record = minIntervalMs !== undefined ? 'a minimum interval between runs' : options.fencingToken ? 'a fencing token' : options.record ? 'the run record' : undefined;
  const transaction = options.transaction ?? 'auto';
  if (transaction === true && (record !== undefined || limit > 1)) {
    throw new UsageError(`a lock held in a transaction cannot be combined with ${record ?? 'a limit'} (they need a session lock)`);
  }
  return {
    id, key, config, shared, limit, timeoutMs, record, minIntervalMs, transaction,
    label: labelOf(id, key),
    wait: options.wait === true || (timeoutMs !== undefined && timeoutMs > 0),
    deadline: timeoutMs !== undefined && timeoutMs > 0 ? Date.now() + timeoutMs : undefined,
    heartbeatMs: options.heartbeatMs ?? 5000,
    applicationName: options.applicationName ?? defaultApplicationName(key ?? String(id)),
    options,
  };
}

// A session on a primary. Not waiting for a plain lock: the session setup statement tries the lock
// too. A waiter keeps trying for a connection slot until its own deadline (the queue drains).
async function connect(request: LockRequest, tryLock = !request.wait && request.limit === 1 && request.transaction !== true): Promise<Session> {
  const { options } = request;
  try {
    return await openSession(request.config, {
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      applicationName: request.applicationName,
      heartbeatMs: request.heartbeatMs,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      ...(options.onConnecting ? { onConnecting: options.onConnecting } : {}),
      ...(tryLock ? { tryLock: { id: request.id, shared: request.shared } } : {}),
      ...(request.wait ? { slotDeadline: request.deadline ?? Number.POSITIVE_INFINITY } : {}),
      ...(request.transaction === true ? { noSessionSettings: true } : {}),
    });
  } catch (error) {
    if (request.wait && request.timeoutMs && error instanceof PglockError && error.code === 'ETOOMANY') {
      throw new LockTimeoutError(`timed out after ${formatDuration(request.timeoutMs)} waiting for the lock ${request.label}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

// Try, wait, or take a slot. A slot may be granted on another session than the first.
async function take(request: LockRequest, first: Session, inTransaction: boolean): Promise<Grant> {
  const { options } = request;
  if (request.limit > 1) {
    const slot = await takeSlot(first, {
      ids: slotIds(request.id, request.limit), gateId: BigInt.asIntN(64, request.id - 1n), wait: request.wait,
      openSession: () => connect(request, false),
      ...remaining(request),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!slot) return { session: first, granted: false, backendPid: undefined, proven: false };
    if (slot.session !== first) await first.close(0);
    return { ...slot, granted: true };
  }
  if (first.tryLockGranted !== undefined) {
    return { session: first, granted: first.tryLockGranted, backendPid: first.backendPid, proven: first.tryLockProven === true };
  }
  return takeOn(request, first, inTransaction);
}

// Before a session lock is taken through a pooler (not yet tried in the setup statement): is it a
// transaction-mode pool? Then the lock goes in a transaction from the start — a session lock, and
// above all a session-level wait, would stay on whichever pooled server connection ran it, and its
// unlock could reach another. A second connection that is handed our idle backend says so.
async function isTransactionPooler(request: LockRequest, session: Session): Promise<boolean> {
  if (!session.proxied || session.tryLockGranted !== undefined || !canHoldInTransaction(request)) return false;
  const handedOurs = (await probeBackendPid(request.config, session.host, request.applicationName)) === session.backendPid;
  if (handedOurs) announceTransactionMode(request, session);
  return handedOurs;
}

function takeOn(request: LockRequest, session: Session, transaction: boolean): Promise<Grant> {
  return takeLock(session.sql, {
    id: request.id, shared: request.shared, wait: request.wait, transaction,
    ...remaining(request),
    ...(request.options.signal ? { signal: request.options.signal } : {}),
  }).then((result) => ({ session, ...result, transaction }));
}

// A session lock was refused by a transaction-mode pooler: take it in a transaction kept open on
// the same client connection (the pooler keeps a transaction on one server connection). A pooler
// in statement mode refuses the transaction itself: then the pooler error stands.
async function takeInTransaction(request: LockRequest, session: Session, refused: DatabaseUnavailableError): Promise<Grant> {
  try {
    const grant = await takeOn(request, session, true);
    announceTransactionMode(request, session);
    return grant;
  } catch (error) {
    if (error instanceof PglockError) throw error;
    throw new DatabaseUnavailableError(refused.message.replace('in transaction or statement mode', 'in statement mode'), { code: 'EPOOLER', cause: error });
  }
}

function remaining(request: LockRequest): { timeoutMs?: number } {
  return request.deadline === undefined ? {} : { timeoutMs: Math.max(1, request.deadline - Date.now()) };
}

async function notGranted(request: LockRequest, session: Session): Promise<LockBusyError> {
  const ids = request.limit > 1 ? slotIds(request.id, request.limit) : [request.id];
  const holders = await findHolders(session, ids);
  let by = holders === undefined ? 'another session' : holders.join('; ');
  if (holders?.length === 0) {
    // Refused, yet nobody holds it now: the holder released it between the two statements (a cron
    // fleet's next host, just as the run ends). The run record, when kept, still names that run.
    const last = request.record === undefined ? undefined : await findLastRun(session, ids);
    by = `another session, which released it just as pglock looked${last ? ` (the last run ${describeRun(last, 'unknown')})` : ''}`;
  }
  if (request.wait && request.timeoutMs) {
    return new LockTimeoutError(`timed out after ${formatDuration(request.timeoutMs)} waiting for the lock ${request.label}, held by ${by}`, { holders: holders ?? [] });
  }
  const what = request.limit > 1 ? `all ${request.limit} slots of the lock ${request.label} are taken, by` : `the lock ${request.label} is held by`;
  return new LockBusyError(`${what} ${by}`, { holders: holders ?? [] });
}

// The grant must show in pg_locks for the backend that took it, in the same statement: a server
// whose advisory-lock functions say yes without locking would otherwise make pglock lie. And
// through anything but a direct connection (the startup's BackendKeyData names the very backend
// that granted the lock), prove that later statements still reach that backend.
async function prove(request: LockRequest, grant: Grant): Promise<void> {
  const { session } = grant;
  if (!grant.proven) {
    throw new DatabaseUnavailableError(
      `${describeTarget(request.config, session.host)} said the advisory lock ${request.label} was granted, but pg_locks does not show it ` +
        'held by this session: this server does not implement PostgreSQL advisory locks, and pglock cannot prove it holds the lock',
      { code: 'ENOADVISORY' },
    );
  }
  // Every statement of a transaction runs on one server connection, poolers included.
  if (grant.transaction) return;
  if (!session.proxied && grant.backendPid === session.backendPid) return;
  const heldId = grant.slot === undefined ? request.id : slotIds(request.id, request.limit)[grant.slot]!;
  await verifyOwnership(session, heldId, request.shared, request.config, request.applicationName);
}

// With a run record: the run's start (a new fencing token), unless a minimum interval says the last
// run is too recent. Written on the locked session, under the key's id (with a limit, all slots
// share it).
async function recordStart(request: LockRequest, session: Session): Promise<RecordedRun | undefined> {
  if (request.record === undefined) return undefined;
  const start = {
    id: request.id, key: request.key, host: hostname(), pid: process.pid,
    ...(request.minIntervalMs === undefined ? {} : { minIntervalMs: request.minIntervalMs }),
    ...(request.options.history === undefined ? {} : { history: request.options.history }),
  };
  const result = await startRun(session.sql, start, request.record);
  if (!result.started) {
    // Holding the key's only lock, no run of it can still be running; with a limit, one may.
    const phrase = describeRun(result.previous, request.limit > 1 ? 'unknown' : 'no');
    throw new RecentRunError(
      `the last run of ${request.key === undefined ? `lock id ${request.id}` : `'${displayKey(request.key)}'`} ${phrase}, ` +
        `less than the minimum interval (${formatDuration(request.minIntervalMs!)}) ago`,
      result.previous, request.minIntervalMs!,
    );
  }
  return {
    id: request.id,
    fencingToken: result.fencingToken,
    previous: result.previous,
    recordElsewhere: (end) => recordEndElsewhere(request, result.fencingToken, end),
  };
}

// The lock's session is gone (the lock was lost): write the run's end from a new one, best effort
// and briefly. The row is only updated while it is still this run's (its fencing token).
async function recordEndElsewhere(request: LockRequest, fencingToken: bigint, end: RunEnd): Promise<void> {
  const session = await openSession(request.config, {
    connectTimeoutMs: Math.min(request.options.connectTimeoutMs ?? 10_000, 5000),
    applicationName: applicationName(`pglock-record:${request.key ?? String(request.id)}`),
    heartbeatMs: 0,
  });
  try {
    await session.sql.unsafe(endRunStatement(request.id, fencingToken, end));
  } finally {
    await session.close().catch(() => undefined);
  }
}

function announceTransactionMode(request: LockRequest, session: Session): void {
  request.options.onTransactionMode?.(`${describeTarget(request.config, session.host)} is a transaction-mode pooler: holding the lock in a transaction kept open while it is held`);
}

function canHoldInTransaction(request: LockRequest): boolean {
  return request.transaction === 'auto' && request.record === undefined && request.limit === 1;
}

// A waiter that loses its connection before the grant holds nothing anywhere: it may reconnect
// (to whichever host is the primary now) and queue again, while its own deadline allows.
function shouldReconnect(request: LockRequest, error: unknown): boolean {
  if (!request.wait || request.options.signal?.aborted) return false;
  if (request.deadline !== undefined && Date.now() >= request.deadline) return false;
  return isRetryable(error);
}

// The latest recorded run of these ids, for the "busy" message: best effort.
async function findLastRun(session: Session, ids: bigint[]): Promise<RunRecord | undefined> {
  try {
    return (await listRuns(session.sql, { ids }))[0];
  } catch {
    return undefined;
  }
}

// Who holds the lock, for the "busy" message: best effort, since the session may be gone
// (undefined: could not look).
export async function findHolders(session: Session, ids: bigint[]): Promise<string[] | undefined> {
  if (session.isClosed()) return undefined;
  try {
    const rows = await listAdvisoryLocks(session.sql, { ids });
    const now = new Date();
    return rows.filter((row) => row.granted && row.pid !== session.backendPid).map((row) => describeHolder(row, now));
  } catch {
    return undefined;
  }
}

/** Acquire, run `fn` with the lock, release — even when `fn` throws (recorded as completed or failed). */
export async function withLock<T>(options: AcquireOptions, fn: (lock: Lock) => Promise<T> | T): Promise<T> {
  const lock = await acquireLock(options);
  let end: RunEnd = { outcome: 'failed' };
  try {
    const result = await fn(lock);
    end = { outcome: 'completed' };
    return result;
  } finally {
    await lock.release({ end });
  }
}

// A pooler in transaction or statement mode runs each statement on whichever backend is free:
// the lock would belong to a backend pglock no longer talks to. Ask from a second statement.
export async function verifyOwnership(session: Session, id: bigint, shared: boolean, config: ConnectionConfig, applicationName: string): Promise<void> {
  const heldHere = await isLockHeld(session.sql, id, shared, session.backendPid);
  if (heldHere && !session.proxied) return;
  if (heldHere && (await probeBackendPid(config, session.host, applicationName)) !== session.backendPid) return;
  const released = await releaseLock(session.sql, id, shared).catch(() => false);
  // The unlock reached another pooled server connection: the lock stays on the one that took it,
  // where nobody would ever release it. End that backend, only while it still holds this lock.
  if (!released) await session.sql.unsafe(`select pg_catalog.pg_terminate_backend(${intLiteral(session.backendPid)}) where ${grantProof(intLiteral(session.backendPid), id, shared)}`).catch(() => undefined);
  throw new DatabaseUnavailableError(
    `the lock was granted, but ${describeTarget(config)} does not keep pglock on one server session: ` +
      'a connection pooler in transaction or statement mode (e.g. PgBouncer) cannot hold session locks; ' +
      'connect to PostgreSQL directly or through a session-mode pool',
    { code: 'EPOOLER' },
  );
}
