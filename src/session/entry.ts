import type { ReservedSql } from '../connection/index.js';
import type { Lock } from '../lock/index.js';
import type { SessionLock } from './session-lock.js';
import type { SessionRequest } from './request.js';

/** A lock id the session holds (or is taking): one server-side lock, one or more local holders. */
export interface Entry {
  id: bigint;
  key: string | undefined;
  shared: boolean;
  locks: Set<SessionLock>;
  /** Settles once the grant is known: true when held. */
  ready: Promise<boolean>;
  /** Resolves once the id is free again in this session. */
  freed: Promise<void>;
  held?: { backendPid: number; sql(): ReservedSql; unlock(): Promise<unknown>; waiter?: Lock };
  settle(held: boolean): void;
  free(): void;
}

/** A new entry for a lock the session is about to take: not ready, not freed. */
export function createEntry(request: SessionRequest): Entry {
  let settle!: (held: boolean) => void;
  let free!: () => void;
  return {
    id: request.id, key: request.key, shared: request.shared, locks: new Set(),
    ready: new Promise((resolve) => (settle = resolve)),
    freed: new Promise((resolve) => (free = resolve)),
    settle: (held) => settle(held),
    free: () => free(),
  };
}
