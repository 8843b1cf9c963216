import type { ReservedSql, Session } from '../connection/index.js';
import { FencedError, LockLostError, UsageError } from '../errors.js';
import { labelOf } from '../key/target.js';
import { type RunEnd, type RunRecord, FENCED_SQLSTATE, FENCE_ID_FUNCTION, endRunStatement } from '../runs/index.js';
import type { SqlClient } from '../sql/client.js';
import { intLiteral } from '../sql/literals.js';
import { releaseLock } from '../sql/lock-statements.js';
import { settleStatement } from '../takeover/index.js';
import { inline } from '../sql/statement.js';
import type { RecordedRun } from './record.js';
import { watchLock } from './watch.js';

/** What acquireLock hands a Lock: the grant, proven, and its run when recorded. */
export interface HeldLock {
  id: bigint;
  backendPid: number;
  /** Held in an open transaction (committed on release). */
  transaction: boolean;
  key: string | undefined;
  shared: boolean;
  slot: number | undefined;
  run: RecordedRun | undefined;
  /** The holder's row is in the takeover record: a clean release settles it before the unlock. */
  claimed: boolean;
  /** Its start is later than its grant (a cut-off holder before it): the release keeps its row, with that start. */
  ahead?: boolean;
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
  readonly #claimed: boolean;
  readonly #ahead: boolean;
  #lostRecorded: Promise<void> = Promise.resolve();

  constructor(session: Session, held: HeldLock, heartbeatMs: number, onLost?: (error: LockLostError) => void) {
    const { id, shared } = held;
    this.#session = session;
    this.id = id;
    this.key = held.key;
    this.shared = shared;
    this.slot = held.slot;
    this.#run = held.run;
    this.#claimed = held.claimed;
    this.#ahead = held.ahead === true;
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

  /**
   * The fence, in the caller's own READ COMMITTED transaction (`sql`: that transaction, e.g. `tx`
   * of `sql.begin`), before its writes: rejects with FencedError if a newer holder of the key has
   * started, and otherwise makes a newer holder's start wait until that transaction ends, so its
   * writes commit before any newer holder runs or not at all. Needs a fencing token (`fencingToken`).
   */
  async fence(sql: SqlClient): Promise<void> {
    if (this.#run === undefined) throw new UsageError('fence() needs a fencing token: acquire the lock with fencingToken: true');
    try {
      await sql.unsafe(`select ${FENCE_ID_FUNCTION}(${intLiteral(this.#run.id)}::pg_catalog.int8, ${intLiteral(this.#run.fencingToken)}::pg_catalog.int8)`);
    } catch (error) {
      if ((error as { code?: unknown }).code !== FENCED_SQLSTATE) throw error;
      throw new FencedError(`the write under the lock ${this.describe()} is stale: ${(error as Error).message.replace(/^pglock_fence: /, '')}`, { cause: error });
    }
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
    // The release mark alone goes in the unlock's own statement (one statement less on the way to
    // the next holder); with the run's end, both go just before it.
    const settle = this.#claimed && !this.transaction ? settleStatement(this.id, { durable: this.#run !== undefined, keep: this.#ahead }) : undefined;
    const recordEnd = this.#run === undefined ? settle
      : [...(settle ? [inline(settle)] : []), endRunStatement(this.#run.id, this.#run.fencingToken, end)].join('; ');
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
