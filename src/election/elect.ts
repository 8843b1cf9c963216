import { hostname } from 'node:os';
import { LockLostError, LockWaitAbortedError, type ReportedError, UsageError } from '../errors.js';
import { type Lock, type LockConnectionOptions, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_HEARTBEAT_MS, acquireResolved, resolveChoice, resolveLockConnection, resolveTakeover } from '../lock/index.js';
import { type Backoff, createBackoff } from './backoff.js';
import { pickDefined } from '../pick-defined.js';
import { sleep } from '../sleep.js';
import { type Leader, findLeader } from './leader.js';

/**
 * The connection options of acquireLock. Contending waits through an outage or a failover without
 * end; each `connectTimeoutMs` without a primary is reported to onError, and it tries on.
 */
export interface ElectOptions extends LockConnectionOptions {
  /** The leadership's name, hashed to a lock id like any key. Give this or `lockId`. */
  key?: string;
  lockId?: bigint;
  /**
   * The leader's duties, called each time this process becomes the leader. `signal` is aborted
   * when leadership ends (lost, or stop()); stop the duties then. When it returns (or throws) while
   * still leading, this process resigns and contends again after a retry delay.
   */
  onLeading: (signal: AbortSignal, lock: Lock) => Promise<void> | void;
  /** Called after each term, once onLeading has settled: why it ended. */
  onStopped?: (end: TermEnd) => void;
  /** Called for what went wrong while contending (cannot connect, a standby) or leading (onLeading threw). */
  onError?: (error: ReportedError) => void;
  /** Delays before contending again after an error or a lost term (default 250 ms doubling to 10 s, with jitter). */
  retry?: { minDelayMs?: number; maxDelayMs?: number };
}

/** How a term ended: lost (with the reason), stop() was called, or onLeading returned or threw. */
export type TermEnd =
  | { reason: 'lost'; error: LockLostError }
  | { reason: 'stopped' }
  | { reason: 'returned' }
  | { reason: 'threw'; error: unknown };

export interface Election {
  /** True while this process leads (false from the moment leadership is lost). */
  readonly isLeader: boolean;
  /** Who leads now (this process, or another as the server shows it), or undefined when nobody does. */
  leader(): Promise<Leader | undefined>;
  /** Resign and stop contending: abort the signal, wait for onLeading, release. Resolves when done. */
  stop(): Promise<void>;
}

/**
 * Contend for leadership forever, until stop(): wait for the lock on a connection of its own
 * (granted by the server the instant the leader releases it or its session ends: no polling), call
 * onLeading while it holds it, and on loss abort the signal, wait for onLeading to settle, call
 * onStopped and contend again with backoff. Never two onLeading at once in this process.
 */
export function elect(options: ElectOptions): Election {
  if (options === null || typeof options !== 'object') throw new UsageError('elect takes an options object');
  if (typeof options.onLeading !== 'function') throw new UsageError('elect needs onLeading, the function that runs while this process leads');
  // An election always waits, without a time limit: contending goes on until stop().
  const choice = resolveChoice({ ...pickDefined(options, ['key', 'lockId']), wait: true });
  const config = resolveLockConnection(options);
  // Settings that cannot keep the promise are refused now, not at each term.
  resolveTakeover(options, options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
  const backoff = createBackoff(options.retry);
  const stopping = new AbortController();
  let current: { lock: Lock; since: Date } | undefined;
  const done = contend();

  async function contend(): Promise<void> {
    let delay = 0;
    while (!stopping.signal.aborted) {
      if (delay > 0) await sleep(delay, stopping.signal);
      if (stopping.signal.aborted) return;
      let lock: Lock;
      try {
        lock = await acquireResolved({
          // Contending waits through an outage (issue 29); each connect timeout without a primary is reported.
          connection: config, signal: stopping.signal, onUnavailable: report,
          ...pickDefined(options, ['connectTimeoutMs', 'heartbeatMs', 'applicationName', 'lockDelay', 'stopWithinMs', 'onDelay', 'onRecordUnavailable']),
        }, choice);
      } catch (error) {
        if (error instanceof LockWaitAbortedError && stopping.signal.aborted) return;
        report(error);
        delay = backoff.next();
        continue;
      }
      backoff.reset();
      const end = await lead(lock);
      // After a term that ended without a loss, wait before contending again: the next waiter in
      // the server's queue takes over first, and a duty that returns at once does not spin.
      delay = end.reason === 'lost' ? backoff.next() : backoff.first();
    }
  }

  async function lead(lock: Lock): Promise<TermEnd> {
    const term = new AbortController();
    current = { lock, since: new Date() };
    const endTerm = (reason: unknown) => {
      if (current?.lock === lock) current = undefined;
      term.abort(reason);
    };
    void lock.lost.then(endTerm);
    const onStop = () => endTerm(new Error('the election was stopped'));
    stopping.signal.addEventListener('abort', onStop, { once: true });
    let end: TermEnd;
    try {
      // stop() came just as the lock was granted: resign without leading.
      if (stopping.signal.aborted) onStop();
      if (!term.signal.aborted) await options.onLeading(term.signal, lock);
      end = term.signal.reason instanceof LockLostError ? { reason: 'lost', error: term.signal.reason } : term.signal.aborted ? { reason: 'stopped' } : { reason: 'returned' };
    } catch (error) {
      end = term.signal.reason instanceof LockLostError ? { reason: 'lost', error: term.signal.reason } : term.signal.aborted ? { reason: 'stopped' } : { reason: 'threw', error };
      if (end.reason === 'threw') report(error);
    } finally {
      stopping.signal.removeEventListener('abort', onStop);
      endTerm(undefined);
    }
    // Told before the lock is released: no other process leads before this term's end is reported.
    try {
      options.onStopped?.(end);
    } catch (error) {
      report(error);
    }
    await lock.release().catch(report);
    return end;
  }

  function report(error: unknown): void {
    try {
      options.onError?.(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // the application's own handler threw: nothing to add
    }
  }

  return {
    get isLeader() {
      return current?.lock.isHeld === true;
    },
    leader: () => {
      const held = current;
      if (held?.lock.isHeld) return Promise.resolve({ host: hostname(), pid: process.pid, backendPid: held.lock.backendPid, since: held.since.toISOString(), self: true });
      return findLeader(config, choice.id, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    },
    stop: async () => {
      stopping.abort();
      await done;
    },
  };
}

export type { Backoff, Leader };
