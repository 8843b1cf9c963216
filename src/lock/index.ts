// Taking a lock, one step a file; the rest of pglock imports from here.
//   options.ts   what a lock is asked (types, defaults)    request.ts  options resolved and checked once
//   connect.ts   the lock's connection (setup statement)    take.ts     try, wait, or a slot (slots.ts)
//   pooler.ts    transaction-mode poolers                   prove.ts    the grant shown in pg_locks, on this backend
//   record.ts    the run record's start and end             busy.ts     who holds it: the busy and timeout errors
//   lock.ts      the Lock, held                             watch.ts    its heartbeat (heartbeat.ts), loss
//   delay.ts     the holder's claim and the takeover delay  engine.ts   which server it is, when a grant cannot be proven
//   acquire.ts   acquireLock and withLock: the steps        primary-check.ts  the superseded-holder check
export { acquireLock, acquireResolved, withLock } from './acquire.js';
export { Lock } from './lock.js';
export { type AcquireOptions, type LockChoice, type LockConnectionOptions, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_HEARTBEAT_MS } from './options.js';
export { type AcquireRequest, type TakeoverPlan, type WaitPlan, remaining, resolveChoice, resolveLockConnection, resolveTakeover, resolveWait } from './request.js';
export { type ClaimOutcome, type ClaimTarget, claimRequestOf, describeDelay, sendClaim, settleClaim } from './delay.js';
export { type BusyContext, busyError, findHolders } from './busy.js';
export { type SessionGrant, notAdvisoryError, notAdvisoryErrorFrom, noteProven, provenPidsOf, proveGrant, verifyOwnership } from './prove.js';
export { type Engine, askEngine, classifyEngine } from './engine.js';
export { lockSessionOptions } from './connect.js';
