import type { Session } from '../connection/index.js';
import { startHeartbeat } from './heartbeat.js';

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
// heartbeat counts as loss too: that is how a silent network cut shows. The heartbeat of a lock
// session with this one lock in it (heartbeat.ts).
export function watchLock(session: Session, options: WatchOptions): { stop(): void; lose(reason: string): void } {
  let done = false;
  const lose = (reason: string) => {
    if (done) return;
    done = true;
    heartbeat.stop();
    options.onLost(reason);
  };
  const lock = { id: options.id, shared: options.shared, backendPid: options.backendPid ?? session.backendPid };
  const heartbeat = startHeartbeat(session, {
    heartbeatMs: options.heartbeatMs,
    backendPid: lock.backendPid,
    locks: () => [lock],
    heldSince: () => options.heldSince,
    onMissing: () => lose(`the lock is no longer held by this session (backend ${lock.backendPid})`),
    onFailed: lose,
  });
  return {
    stop() {
      done = true;
      heartbeat.stop();
    },
    lose,
  };
}
