import { type ConnectionConfig, type ReservedSql, type Session, applicationName, describeTarget, openSession } from '../connection/index.js';
import { LockBusyError, LockLostError, LockWaitAbortedError, UsageError } from '../errors.js';
import {
  type ClaimTarget, type Lock, type TakeoverPlan, DEFAULT_HEARTBEAT_MS, acquireResolved, busyError, describeDelay,
  findHolders, lockSessionOptions, notAdvisoryErrorFrom, noteProven, provenPidsOf, resolveLockConnection, resolveTakeover, sendClaim, settleClaim, verifyOwnership,
} from '../lock/index.js';
import { pickDefined } from '../pick-defined.js';
import { sleep } from '../sleep.js';
import { permissionErrorFor } from '../lock/privilege.js';
import { type Claim, newSessionToken } from '../takeover/index.js';
import { releaseLock } from '../sql/lock-statements.js';
import { type ProvenLock, startHeartbeat } from '../lock/heartbeat.js';
import { SessionLock } from './session-lock.js';
import { heldOnMain, tryWithClaim } from './try.js';
import { ARMED_LINGER_MS, ArmedRows } from './armed.js';
import { type Entry, createEntry } from './entry.js';
import { type LockSessionOptions, type SessionAcquireOptions, type SessionRequest, resolveSessionRequest, waitUntilFreed } from './request.js';

export type { LockSessionOptions } from './request.js';

/**
 * Open a lock session: one dedicated connection that holds any number of advisory locks, proven
 * by one heartbeat. A fail-fast lock costs one round trip to take and one to release, no new
 * connection; a wait for a busy key waits on a connection of its own (so the session's other locks
 * and its heartbeat go on), which then keeps that lock. Rejects like acquireLock when it cannot
 * connect (DatabaseUnavailableError, StandbyError) or the options are bad (UsageError).
 */
export async function openLockSession(options: LockSessionOptions = {}): Promise<LockSession> {
  const session = new LockSession(resolveLockConnection(options), options);
  await session.connect(options.signal);
  return session;
}

export class LockSession implements AsyncDisposable {
  readonly #config: ConnectionConfig;
  readonly #options: LockSessionOptions;
  readonly #applicationName: string;
  readonly #heartbeatMs: number;
  readonly #takeover: TakeoverPlan;
  readonly #entries = new Map<bigint, Entry>();
  #main: Session | undefined;
  #opening: Promise<Session> | undefined;
  #heartbeat: { stop(): void } | undefined;
  #armed: ArmedRows | undefined; // the holder rows its connection keeps armed (armed.ts)
  #verified = false;
  /** Whether the claim function is known to be there: the try then carries the claim (try.ts). */
  readonly #claimInTry = { known: false };
  #closed = false;

  /** @internal use openLockSession */
  constructor(config: ConnectionConfig, options: LockSessionOptions) {
    this.#config = config;
    this.#options = options;
    this.#applicationName = options.applicationName ?? applicationName('pglock:(session)');
    this.#heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.#takeover = resolveTakeover(options, this.#heartbeatMs);
  }

  /** The backend of the session's own connection, while it is open. */
  get backendPid(): number | undefined {
    return this.#main?.isClosed() === false ? this.#main.backendPid : undefined;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** The locks held now (a shared lock taken twice counts twice). */
  get locks(): SessionLock[] {
    return [...this.#entries.values()].flatMap((entry) => [...entry.locks]);
  }

  /**
   * Take a lock on this session. Fail fast by default (LockBusyError when held elsewhere, or by
   * another holder in this session: a session's exclusive locks do not stack); `wait` waits,
   * `timeoutMs` bounds the wait (LockTimeoutError), `signal` cancels it (LockWaitAbortedError).
   */
  async acquire(options: SessionAcquireOptions): Promise<SessionLock> {
    this.#assertOpen();
    const request = resolveSessionRequest(options);
    for (;;) {
      const entry = this.#entries.get(request.id);
      if (entry === undefined) break;
      if (entry.shared && request.shared) {
        // Shared holders coexist: join the session's shared lock once it is granted.
        if ((await entry.ready) && this.#entries.get(request.id) === entry) return this.#addLock(entry);
        continue;
      }
      if (!request.wait) {
        throw new LockBusyError(`the lock ${request.label} is held by this lock session already (pid ${process.pid}): a session's locks do not stack`, {
          holders: [`this lock session (pid ${process.pid})`],
        });
      }
      await waitUntilFreed(entry.freed, request);
      this.#assertOpen();
    }
    const entry = this.#reserve(request);
    try {
      entry.held = await this.#take(request, entry);
      if (this.#closed) {
        await entry.held.unlock().catch(() => undefined);
        throw new UsageError('the lock session was closed while the lock was being taken');
      }
      entry.settle(true);
      return this.#addLock(entry);
    } catch (error) {
      this.#drop(entry);
      entry.settle(false);
      throw error;
    }
  }

  /** Acquire, run `fn` with the lock, release — even when `fn` throws. */
  async withLock<T>(options: SessionAcquireOptions, fn: (lock: SessionLock) => Promise<T> | T): Promise<T> {
    const lock = await this.acquire(options);
    try {
      return await fn(lock);
    } finally {
      await lock.release();
    }
  }

  /** Release every lock and close the connections. Locks still held are reported lost (closed). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#opening?.catch(() => undefined);
    // Armed rows of locks not held are marked released (within a second); a held lock is lost, its row stays.
    await this.#armed?.settleIdle((id) => this.#entries.has(id), ARMED_LINGER_MS);
    await this.#failAll('the lock session was closed');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * @internal open (or reopen) the session's own connection; `waitDeadline`: for a waiting acquire,
   * keep trying until then (a failover), not only for the connect timeout.
   */
  async connect(signal?: AbortSignal, waitDeadline?: number): Promise<Session> {
    if (this.#main && !this.#main.isClosed()) return this.#main;
    this.#opening ??= openSession(this.#config, {
      ...lockSessionOptions({ ...this.#options, signal }, this.#applicationName, this.#heartbeatMs),
      ...(waitDeadline === undefined ? {} : { waitDeadline }),
      token: newSessionToken(),
    }).then((session) => {
      this.#main = session;
      this.#armed = new ArmedRows(session, !session.proxied);
      this.#verified = false;
      this.#heartbeat = this.#watch(session);
      return session;
    }).finally(() => (this.#opening = undefined));
    return this.#opening;
  }

  // Try on the session's own connection; when busy and waiting, wait on a connection of its own,
  // which keeps the lock once granted (a grant cannot move between backends without a gap).
  async #take(request: SessionRequest, entry: Entry): Promise<NonNullable<Entry['held']>> {
    if (request.signal?.aborted) throw new LockWaitAbortedError('cancelled before the lock was tried');
    const main = request.wait ? await this.#connectWaiting(request) : this.#main?.isClosed() === false ? this.#main : await this.connect();
    const target: ClaimTarget = { id: request.id, key: request.key, shared: request.shared, label: request.label, takeover: this.#takeover };
    // A warm connection: prepared statements (parsed and planned once per connection); not through a
    // pooler, which may not keep them.
    const prepared = !main.proxied;
    const { tried, claimed } = await tryWithClaim(main, request, target, prepared, this.#claimInTry, provenPidsOf(main)).catch((error: unknown) => {
      throw permissionErrorFor(error, this.#config.user) ?? error;
    });
    if (tried.granted) {
      if (!tried.proven || tried.backendPid !== main.backendPid) {
        await releaseLock(main.sql, request.id, request.shared).catch(() => undefined);
        throw await notAdvisoryErrorFrom(main.sql, request.label, describeTarget(this.#config, main.host));
      }
      noteProven(main, main.backendPid);
      if (main.proxied && !this.#verified) {
        await verifyOwnership(main, request.id, request.shared, this.#config, this.#applicationName);
        this.#verified = true;
      }
      const claim = await settleClaim(main, target, await claimed, this.#options.onRecordUnavailable);
      const armed = this.#armed?.session === main ? this.#armed : undefined;
      const held = heldOnMain(main, request, claim, armed, prepared, () => this.#entries.has(request.id));
      if (claim !== undefined && claim.delayMs > 0) await this.#delayStart(entry, target, claim, held, request.signal);
      return held;
    }
    await claimed;
    if (!request.wait) throw busyError(request, await findHolders(main.sql, [request.id], main.backendPid));
    const waiter = await acquireResolved({
      connection: this.#config, shared: request.shared,
      ...(request.signal ? { signal: request.signal } : {}),
      ...(this.#options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: this.#options.connectTimeoutMs }),
      // The session's heartbeat proves this lock too; the waiter's own watch reacts to its close.
      heartbeatMs: 0,
      applicationName: this.#applicationName,
      onLost: (error) => this.#lose(entry, error.message.replace(/^lost the lock [^:]*: /, '')),
      ...pickDefined(this.#options, ['lockDelay', 'stopWithinMs', 'onDelay', 'onRecordUnavailable']),
    }, request, 2 * this.#heartbeatMs);
    return { backendPid: waiter.backendPid, sql: () => waiter.sql, unlock: () => waiter.release(), waiter };
  }

  // A waiting acquire waits through an outage until its own deadline (issue 29): an opening already
  // under way (with the connect timeout only) is let end first, then one of its own is made.
  async #connectWaiting(request: SessionRequest): Promise<Session> {
    if (this.#opening) await this.#opening.catch(() => undefined);
    return this.connect(request.signal, request.deadline ?? Number.POSITIVE_INFINITY);
  }

  // The previous holder was cut off: hold the lock on the session's connection, and hand it out
  // only once that holder must have stopped; lost or cancelled meanwhile, it is given back.
  async #delayStart(entry: Entry, target: ClaimTarget, claim: Claim, held: { unlock(): Promise<unknown> }, signal: AbortSignal | undefined): Promise<void> {
    this.#options.onDelay?.(describeDelay(target, claim));
    await sleep(claim.delayMs, signal);
    if (this.#entries.get(entry.id) !== entry || this.#closed) throw new LockLostError(`lost the lock ${target.label} while waiting out the takeover delay`);
    if (signal?.aborted) {
      await held.unlock().catch(() => undefined);
      throw new LockWaitAbortedError('cancelled while waiting out the takeover delay');
    }
  }

  #reserve(request: SessionRequest): Entry {
    const entry = createEntry(request);
    this.#entries.set(request.id, entry);
    return entry;
  }

  #addLock(entry: Entry): SessionLock {
    const held = entry.held!;
    const lock = new SessionLock({
      id: entry.id, key: entry.key, shared: entry.shared, backendPid: held.backendPid, sql: held.sql,
      unlock: (released) => this.#unlock(entry, released),
    });
    entry.locks.add(lock);
    return lock;
  }

  // The last local holder gone: unlock on the server (queued before any later try on the same
  // connection), then the id is free for this session's next taker.
  async #unlock(entry: Entry, lock: SessionLock): Promise<void> {
    entry.locks.delete(lock);
    if (entry.locks.size > 0 || this.#entries.get(entry.id) !== entry) return;
    const unlocked = entry.held!.unlock();
    this.#drop(entry);
    try {
      await unlocked;
    } catch (error) {
      // The connection failed under the unlock: nothing this session holds can be proven now.
      if (!this.#closed) await this.#failAll(`the unlock failed: ${(error as Error).message.split('\n')[0]}`);
    }
  }

  #drop(entry: Entry): void {
    if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
    entry.free();
  }

  #lose(entry: Entry, reason: string): Promise<unknown> {
    if (this.#entries.get(entry.id) !== entry) return Promise.resolve();
    this.#drop(entry);
    for (const lock of entry.locks) {
      lock.markLost(reason);
      this.#options.onLost?.(new LockLostError(`lost the lock ${lock.describe()}: ${reason}`), lock);
    }
    entry.locks.clear();
    return entry.held?.waiter?.release().catch(() => undefined) ?? Promise.resolve();
  }

  // The session's connection cannot prove anything any more: every lock is lost, the connection is
  // closed (which releases whatever it still held); the next acquire opens a new one.
  async #failAll(reason: string): Promise<void> {
    this.#heartbeat?.stop();
    const waiters = [...this.#entries.values()].map((entry) => this.#lose(entry, reason));
    const main = this.#main;
    this.#main = undefined;
    await Promise.all([...waiters, main?.close(0)]);
  }

  #watch(session: Session): { stop(): void } {
    return startHeartbeat(session, {
      heartbeatMs: this.#heartbeatMs,
      locks: () => [...this.#entries.values()].flatMap((entry): ProvenLock[] =>
        entry.held && entry.locks.size > 0 ? [{ id: entry.id, shared: entry.shared, backendPid: entry.held.backendPid }] : []),
      heldSince: () => {
        const own = [...this.#entries.values()].filter((entry) => entry.held?.backendPid === session.backendPid && entry.locks.size > 0);
        return own.length === 1 ? [...own[0]!.locks][0]?.heldSince : undefined;
      },
      onMissing: (locks) => {
        for (const { id, backendPid } of locks) {
          const entry = this.#entries.get(id);
          if (entry) this.#lose(entry, `the lock is no longer held by this session (backend ${backendPid})`);
        }
      },
      onFailed: (reason) => {
        if (this.#main === session) void this.#failAll(reason);
      },
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new UsageError('the lock session is closed: open a new one with openLockSession');
  }
}
