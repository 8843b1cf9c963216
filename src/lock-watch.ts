import type { Session } from './connection/index.js';
import { formatDuration } from './duration.js';
import { isLockHeld } from './lock-sql.js';

export interface WatchOptions {
  id: bigint;
  shared: boolean;
  /** How often to prove the lock is still held; 0 turns the periodic check off. */
  heartbeatMs: number;
  /** When the lock was granted; each check carries it for `pglock status`. */
  heldSince: Date;
  /** The backend holding the lock (default: the session's). */
  backendPid?: number;
  onLost: (reason: string) => void;
}

// Keep proving the session still holds the lock: react at once when the connection closes, and
// every heartbeat ask pg_locks on the same backend. A check that does not answer within one
// heartbeat counts as loss too: that is how a silent network cut shows.
export function watchLock(session: Session, options: WatchOptions): { stop(): void; lose(reason: string): void } {
  let stopped = false;
  let checking = false;
  const lose = (reason: string) => {
    if (stopped) return;
    stop();
    options.onLost(reason);
  };
  void session.closed.then(() => lose('the database connection closed'));
  const timer = options.heartbeatMs > 0 ? setInterval(beat, options.heartbeatMs) : undefined;
  timer?.unref();

  function beat() {
    if (checking || stopped || session.isClosed()) return;
    checking = true;
    const noAnswer = setTimeout(
      () => lose(`the database did not answer a lock check within ${formatDuration(options.heartbeatMs)}`),
      options.heartbeatMs,
    );
    const backendPid = options.backendPid ?? session.backendPid;
    isLockHeld(session.sql, options.id, options.shared, backendPid, options.heldSince).then(
      (held) => {
        if (!held) lose(`the lock is no longer held by this session (backend ${backendPid})`);
      },
      (error: unknown) => lose(`the lock check failed: ${(error as Error).message.split('\n')[0]}`),
    ).finally(() => {
      clearTimeout(noAnswer);
      checking = false;
    });
  }

  function stop() {
    stopped = true;
    if (timer) clearInterval(timer);
  }
  return { stop, lose };
}
