import { hostname } from 'node:os';
import { type Session, type ReservedSql, describeConnectError, openSession, probeBackendPid } from './connect.js';
import { type ConnectionConfig, type Env, pickDatabaseUrl, resolveConnectionConfig, describeTarget } from './connection-config.js';
import { DatabaseUnavailableError, PglockError, LockBusyError, LockLostError, LockTimeoutError, LockWaitAbortedError, UsageError } from './errors.js';
import { formatDuration } from './duration.js';
import { MAX_LIMIT, lockIdForKey, slotIds } from './lock-id.js';
import { nextFencingToken } from './fencing.js';
import { describeHolder, listAdvisoryLocks } from './holders.js';
import { isLockHeld, releaseLock, takeLock } from './lock-sql.js';
import { takeSlot } from './semaphore.js';
import { watchLock } from './lock-watch.js';

export interface AcquireOptions {
  /** Lock name; hashed to the id with SHA-256 (see lockIdForKey). Give this or `lockId`. */
  key?: string;
  /** Raw 64-bit advisory lock id, for interop with code that already locks by number. */
  lockId?: bigint;
  /** Connection URL; else PGLOCK_DATABASE_URL, DATABASE_URL, then the libpq PG* variables. */
  url?: string;
  /** An already resolved connection (overrides `url` and the environment). */
  connection?: ConnectionConfig;
  /** Environment to read connection settings from (default: process.env). */
  env?: Env;
  /** Wait for the lock instead of failing fast. */
  wait?: boolean;
  /** Wait at most this long (milliseconds), then throw LockTimeoutError. Implies `wait`. */
  timeoutMs?: number;
  /** Take the shared form of the lock. */
  shared?: boolean;
  /** Counting semaphore: let up to this many holders in at once (slots; see lock-id.ts slotIds). */
  limit?: number;
  /** After acquiring, take the next fencing token for the key (see fencing.ts). */
  fencingToken?: boolean;
  /** Keep retrying the connection for this long (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** How often to check that the lock is still held (default 5 000 ms; 0 = only on disconnect). */
  heartbeatMs?: number;
  /** application_name of the lock session (default `pglock:<key>@<host>:<pid>`). */
  applicationName?: string;
  /** Cancels connecting or waiting; the acquire then rejects with LockWaitAbortedError. */
  signal?: AbortSignal;
  /** Called once if the lock is lost while held (connection closed, check failed). */
  onLost?: (error: LockLostError) => void;
  /** Called before each connection retry. */
  onRetry?: (reason: string, delayMs: number) => void;
}

/** A held advisory lock on its own dedicated connection. Release it, or `await using` it. */
export class Lock implements AsyncDisposable {
  /** The lock id held: the key's id, or with a limit the id of the slot held. */
  readonly id: bigint;
  readonly key: string | undefined;
  readonly shared: boolean;
  /** With a limit: the slot held (0 to limit − 1). */
  readonly slot: number | undefined;
  /** With fencingToken: a number larger than every earlier holder's for this key. */
  readonly fencingToken: bigint | undefined;
  readonly backendPid: number;
  /** Aborted when the lock is lost: pass it to work that must stop without the lock. */
  readonly signal: AbortSignal;
  /** Resolves with the reason if the lock is lost while held; never rejects. */
  readonly lost: Promise<LockLostError>;
  readonly #session: Session;
  readonly #watch: { stop(): void };
  readonly #lostController = new AbortController();
  #state: 'held' | 'lost' | 'released' = 'held';
  #release: Promise<void> | undefined;
  #unlocked: Promise<void> | undefined;

  constructor(session: Session, held: HeldLock, heartbeatMs: number, onLost?: (error: LockLostError) => void) {
    const { id, shared } = held;
    this.#session = session;
    this.id = id;
    this.key = held.key;
    this.shared = shared;
    this.slot = held.slot;
    this.fencingToken = held.fencingToken;
    this.backendPid = session.backendPid;
    this.signal = this.#lostController.signal;
    let resolveLost!: (error: LockLostError) => void;
    this.lost = new Promise((resolve) => (resolveLost = resolve));
    this.#watch = watchLock(session, {
      id,
      shared,
      heartbeatMs,
      heldSince: new Date(),
      onLost: (reason) => {
        if (this.#state !== 'held') return;
        this.#state = 'lost';
        const error = new LockLostError(`lost the lock ${this.describe()}: ${reason}`);
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
   * Release the lock and close its connection. Safe to call more than once. With
   * `waitForClose: false` it resolves as soon as the server has confirmed the unlock and the
   * connection's Terminate message is sent, without waiting for the server to close the socket
   * (for a caller that is about to exit).
   */
  release(options: { waitForClose?: boolean } = {}): Promise<void> {
    this.#release ??= this.#doRelease();
    return options.waitForClose === false ? this.#unlocked! : this.#release;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  describe(): string {
    const slot = this.slot === undefined ? '' : `, slot ${this.slot}`;
    return this.key === undefined ? `id ${this.id}${slot}` : `'${this.key}' (id ${this.id}${slot})`;
  }

  #doRelease(): Promise<void> {
    this.#watch.stop();
    const wasHeld = this.#state === 'held';
    if (wasHeld) this.#state = 'released';
    const unlock = wasHeld && !this.#session.isClosed() ? releaseLock(this.#session.sql, this.id, this.shared) : Promise.resolve(true);
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
  key: string | undefined;
  shared: boolean;
  slot: number | undefined;
  fencingToken: bigint | undefined;
}

/**
 * Open a dedicated connection and take the advisory lock on it.
 * Rejects with LockBusyError when the lock is held elsewhere (fail fast, the default),
 * LockTimeoutError when `timeoutMs` runs out, DatabaseUnavailableError when it cannot connect.
 */
export async function acquireLock(options: AcquireOptions): Promise<Lock> {
  const { id, key } = resolveLockId(options);
  const config = options.connection ?? resolveConnectionConfig(pickDatabaseUrl(options.url, options.env ?? process.env), options.env ?? process.env);
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const shared = options.shared ?? false;
  const limit = options.limit ?? 1;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new UsageError(`limit must be a whole number from 1 to ${MAX_LIMIT}, got ${limit}`);
  if (limit > 1 && shared) throw new UsageError('a limit and a shared lock cannot be combined');
  const applicationName = options.applicationName ?? defaultApplicationName(key ?? String(id));
  const wait = options.wait === true || (options.timeoutMs !== undefined && options.timeoutMs > 0);
  const label = key === undefined ? `id ${id}` : `'${key}' (id ${id})`;
  const open = (tryLock?: { id: bigint; shared: boolean }) => openSession(config, {
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    applicationName,
    heartbeatMs,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    ...(tryLock ? { tryLock } : {}),
  });
  // Not waiting for a plain lock: try it in the session setup statement itself.
  const first = await open(wait || limit > 1 ? undefined : { id, shared });
  let session = first;
  try {
    let grant: { granted: boolean; backendPid: number | undefined; slot?: number; session?: Session };
    if (limit > 1) {
      const slot = await takeSlot(first, {
        ids: slotIds(id, limit), gateId: BigInt.asIntN(64, id - 1n), wait, openSession: () => open(),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      grant = slot ? { granted: true, ...slot } : { granted: false, backendPid: undefined };
      if (slot && slot.session !== first) {
        session = slot.session;
        await first.close(0);
      }
    } else if (first.tryLockGranted !== undefined) {
      grant = { granted: first.tryLockGranted, backendPid: first.backendPid };
    } else {
      grant = await takeLock(first.sql, {
        id, shared, wait,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    }
    if (!grant.granted) {
      const holders = await findHolders(session, limit > 1 ? slotIds(id, limit) : [id]);
      const by = holders.length > 0 ? holders.join('; ') : 'another session';
      if (wait && options.timeoutMs) throw new LockTimeoutError(`timed out after ${formatDuration(options.timeoutMs)} waiting for the lock ${label}, held by ${by}`, { holders });
      const what = limit > 1 ? `all ${limit} slots of the lock ${label} are taken, by` : `the lock ${label} is held by`;
      throw new LockBusyError(`${what} ${by}`, { holders });
    }
    if (options.signal?.aborted) throw new LockWaitAbortedError('cancelled just as the lock was granted');
    const heldId = grant.slot === undefined ? id : slotIds(id, limit)[grant.slot]!;
    // Connected straight to PostgreSQL (the startup's BackendKeyData names the very backend that
    // granted the lock), every statement runs on that backend: the grant is the proof. Through
    // anything else, prove it from a second statement.
    if (session.proxied || grant.backendPid !== session.backendPid) await verifyOwnership(session, heldId, shared, config, applicationName);
    const fencingToken = options.fencingToken ? await nextFencingToken(session.sql, id) : undefined;
    return new Lock(session, { id: heldId, key, shared, slot: grant.slot, fencingToken }, heartbeatMs, options.onLost);
  } catch (error) {
    await session.close(0);
    if (session !== first) await first.close(0);
    if (error instanceof PglockError) throw error;
    throw new DatabaseUnavailableError(`lost the connection to ${describeTarget(config)} while taking the lock: ${describeConnectError(error)}`, { cause: error });
  }
}

// Who holds the lock, for the "busy" message: best effort, since the session may be gone.
async function findHolders(session: Session, ids: bigint[]): Promise<string[]> {
  if (session.isClosed()) return [];
  try {
    const rows = await listAdvisoryLocks(session.sql, { ids });
    const now = new Date();
    return rows.filter((row) => row.granted && row.pid !== session.backendPid).map((row) => describeHolder(row, now));
  } catch {
    return [];
  }
}

/** Acquire, run `fn` with the lock, release — even when `fn` throws. */
export async function withLock<T>(options: AcquireOptions, fn: (lock: Lock) => Promise<T> | T): Promise<T> {
  const lock = await acquireLock(options);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

// A pooler in transaction or statement mode runs each statement on whichever backend is free:
// the lock would belong to a backend pglock no longer talks to. Ask from a second statement.
async function verifyOwnership(session: Session, id: bigint, shared: boolean, config: ConnectionConfig, applicationName: string): Promise<void> {
  const heldHere = await isLockHeld(session.sql, id, shared, session.backendPid);
  if (heldHere && !session.proxied) return;
  if (heldHere && (await probeBackendPid(config, applicationName)) !== session.backendPid) return;
  await releaseLock(session.sql, id, shared).catch(() => false);
  throw new DatabaseUnavailableError(
    `the lock was granted, but ${describeTarget(config)} does not keep pglock on one server session: ` +
      'a connection pooler in transaction or statement mode (e.g. PgBouncer) cannot hold session locks; ' +
      'connect to PostgreSQL directly or through a session-mode pool',
    { code: 'EPOOLER' },
  );
}

function resolveLockId(options: AcquireOptions): { id: bigint; key?: string } {
  if (options.key !== undefined && options.lockId !== undefined) throw new UsageError('give a key or a lockId, not both');
  if (options.lockId !== undefined) return { id: BigInt.asIntN(64, options.lockId) };
  if (options.key === undefined) throw new UsageError('a lock key (or lockId) is required');
  return { id: lockIdForKey(options.key), key: options.key };
}

// application_name is at most 63 bytes: `<head>@<host>:<pid>`. The head (pglock:<key>) is cut
// first; a host name so long that fewer than 8 bytes of head would fit is shortened; the pid never.
export function applicationName(head: string, host_: string = hostname(), pid_: number = process.pid): string {
  const pid = `:${pid_}`;
  const host = printable(host_).slice(0, 63 - 8 - 1 - pid.length);
  return `${printable(head).slice(0, 63 - `@${host}${pid}`.length)}@${host}${pid}`;
}

/** The application_name of a lock session: `pglock:<key>@<host>:<pid>`. */
export function defaultApplicationName(key: string, host?: string, pid?: number): string {
  return applicationName(`pglock:${key}`, host, pid);
}

// PostgreSQL keeps only printable ASCII in application_name (16+ escapes the rest as \xNN).
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}
