import type { Session } from '../connection/index.js';
import { send } from '../sql/statement.js';
import { sleep } from '../sleep.js';
import { installRecord, settleStatement } from '../takeover/index.js';

/**
 * How long a lock session keeps a released lock's holder row armed (takeover/objects.ts) before it
 * marks it released: a section within this of the last one writes nothing. A session cut off within
 * this after a release makes that lock's next holder wait its bound, as if it had been cut off
 * holding it (the next holder cannot tell the two apart once its backend is gone).
 */
export const ARMED_LINGER_MS = 1000;

/**
 * The locks whose holder rows a lock session's connection keeps armed: held, or released less than
 * ARMED_LINGER_MS ago. Per connection: a new one (another backend) starts with none.
 */
export class ArmedRows {
  readonly #main: Session;
  readonly #prepared: boolean;
  /** Armed lock ids: the timer that marks the row released, while the lock is not held. */
  readonly #rows = new Map<bigint, NodeJS.Timeout | undefined>();
  #upgraded = false;

  constructor(main: Session, prepared: boolean) {
    this.#main = main;
    this.#prepared = prepared;
  }

  get session(): Session {
    return this.#main;
  }

  /** The claim of a grant armed (or kept armed) the row of `id`: it stays as it is while held. */
  arm(id: bigint): void {
    clearTimeout(this.#rows.get(id));
    this.#rows.set(id, undefined);
  }

  /**
   * A claim function from an older pglock (CLAIM_VERSION: one that keeps no armed rows writes every
   * section's row twice; one before version 3 makes a transaction lock's read dearer): bring
   * pglock's objects up to date, once per connection (installRecord: where this role may; otherwise
   * sections go on as before). Queued behind the statements already sent.
   */
  upgrade(): void {
    if (this.#upgraded) return;
    this.#upgraded = true;
    void installRecord(this.#main.sql).catch(() => undefined);
  }

  /**
   * The lock `id` was released with its row left armed: mark it released once it has not been taken
   * again for ARMED_LINGER_MS (`taken`: whether this session holds or is taking it by then).
   */
  released(id: bigint, taken: () => boolean): void {
    if (!this.#rows.has(id)) return;
    clearTimeout(this.#rows.get(id));
    const timer = setTimeout(() => {
      if (this.#rows.get(id) !== timer || taken()) return;
      void this.#settle([id]);
    }, ARMED_LINGER_MS);
    timer.unref();
    this.#rows.set(id, timer);
  }

  /**
   * Mark every armed row not held now released (a clean close), in one round trip, waiting for it
   * `withinMs` at most: on a connection gone silent the rows stay armed (a next holder then waits
   * their bound, as after a cut-off), and the close goes on.
   */
  async settleIdle(held: (id: bigint) => boolean, withinMs: number): Promise<void> {
    const done = new AbortController();
    await Promise.race([this.#settle([...this.#rows.keys()].filter((id) => !held(id))), sleep(withinMs, done.signal)]);
    done.abort();
  }

  // Queued behind every statement sent before it on the connection: a try sent before it has
  // already found the row armed; one sent after it finds the row released, and arms it again.
  async #settle(ids: bigint[]): Promise<void> {
    for (const id of ids) {
      clearTimeout(this.#rows.get(id));
      this.#rows.delete(id);
    }
    if (ids.length === 0 || this.#main.isClosed()) return;
    await Promise.all(ids.map((id) => send(this.#main.sql, settleStatement(id), this.#prepared))).catch(() => undefined);
  }
}
