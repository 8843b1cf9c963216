// Lock sessions: many advisory locks on one dedicated connection, for long-running services.
//   lock-session.ts  openLockSession, LockSession (acquire, withLock, close)
//   session-lock.ts  SessionLock, one held lock      request.ts  session and acquire options, the in-process wait
//   try.ts           a fail-fast try on the session's connection, with the holder's claim
//   entry.ts         a lock id the session holds or is taking, and its local holders
//   armed.ts         the holder rows its connection keeps armed between sections, marked released later
//   (the heartbeat, one statement that proves every lock of the session, is ../lock/heartbeat.ts)
export { openLockSession, LockSession, type LockSessionOptions } from './lock-session.js';
export { SessionLock } from './session-lock.js';
export type { SessionAcquireOptions } from './request.js';
