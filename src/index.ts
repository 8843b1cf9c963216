// The library: the same core the pglock CLI uses.
export { acquireLock, withLock, Lock, type AcquireOptions } from './lock.js';
export { lockIdForKey, parseLockId, lockIdSql, slotIds } from './lock-id.js';
export { listAdvisoryLocks, describeHolder, type AdvisoryLockRow } from './holders.js';
export { FENCING_TABLE } from './fencing.js';
export { resolveConnectionConfig, describeTarget, type ConnectionConfig } from './connection/index.js';
export {
  PglockError, UsageError, LockBusyError, LockTimeoutError, LockWaitAbortedError,
  DatabaseUnavailableError, StandbyError, LockLostError,
} from './errors.js';
export { ExitCode } from './exit-codes.js';
