import type { ReservedSql } from '../connection/index.js';
import { LockLostError } from '../errors.js';
import { labelOf } from '../key/target.js';

/** What a SessionLock needs from the session that holds it. */
export interface SessionLockBinding {
  id: bigint;
  key: string | undefined;
  shared: boolean;
  /** The connection the lock is on: the session's own, or the one that waited for it. */
  sql(): ReservedSql;
  backendPid: number;
  /** Give the lock back (the session unlocks it on the server once no local holder is left). */
  unlock(lock: SessionLock): Promise<void>;
}

/**
 * A lock held on a lock session: the same surface as `Lock` (release, `await using`, `signal`
 * aborted on loss, `lost`), without a connection of its own. Made by `LockSession.acquire`.
 */
export class SessionLock implements AsyncDisposable {
  readonly id: bigint;
  readonly key: string | undefined;
  readonly shared: boolean;
  readonly backendPid: number;
  /** When the grant was proven (as `Lock.heldSince`). */
  readonly heldSince = new Date();
  readonly #binding: SessionLockBinding;
  // Made when first asked for (most sections never look): the signal, and the `lost` promise.
  #controller: AbortController | undefined;
  #lost: Promise<LockLostError> | undefined;
  #resolveLost: ((error: LockLostError) => void) | undefined;
  #lostError: LockLostError | undefined;
  #state: 'held' | 'lost' | 'released' = 'held';
  #release: Promise<void> | undefined;

  constructor(binding: SessionLockBinding) {
    this.#binding = binding;
    this.id = binding.id;
    this.key = binding.key;
    this.shared = binding.shared;
    this.backendPid = binding.backendPid;
  }

  /** Aborted when the lock is lost: pass it to work that must stop without the lock. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#lostError !== undefined) this.#controller.abort(this.#lostError);
    }
    return this.#controller.signal;
  }

  /** Resolves with the reason if the lock is lost while held; never rejects. */
  get lost(): Promise<LockLostError> {
    this.#lost ??= this.#lostError !== undefined ? Promise.resolve(this.#lostError) : new Promise((resolve) => (this.#resolveLost = resolve));
    return this.#lost;
  }

  /** The connection that holds the lock, for queries inside the critical section. */
  get sql(): ReservedSql {
    if (this.#state !== 'held') throw new LockLostError(`the lock ${this.describe()} is ${this.#state}; its connection is not handed out`);
    return this.#binding.sql();
  }

  /** @deprecated the same as `heldSince`, the name `Lock` uses. */
  get since(): Date {
    return this.heldSince;
  }

  get isHeld(): boolean {
    return this.#state === 'held';
  }

  /** Release the lock; the session stays open. Safe to call more than once. */
  release(): Promise<void> {
    if (this.#release) return this.#release;
    const wasHeld = this.#state === 'held';
    if (wasHeld) this.#state = 'released';
    this.#release = wasHeld ? this.#binding.unlock(this) : Promise.resolve();
    return this.#release;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  describe(): string {
    return labelOf(this.id, this.key);
  }

  /** The session could not prove the lock any more: abort the signal, resolve `lost`. */
  markLost(reason: string): void {
    if (this.#state !== 'held') return;
    this.#state = 'lost';
    const error = new LockLostError(`lost the lock ${this.describe()}: ${reason}`);
    this.#lostError = error;
    this.#controller?.abort(error);
    this.#resolveLost?.(error);
  }
}
