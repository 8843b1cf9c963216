// The library: the same core the pglock CLI uses.
export { acquireLock, withLock, Lock, type AcquireOptions, type LockConnectionOptions } from './lock/index.js';
export { openLockSession, LockSession, SessionLock, type LockSessionOptions, type SessionAcquireOptions } from './session/index.js';
export { withTransactionLock, type TransactionLock, type TransactionLockOptions } from './transaction-lock.js';
export { elect, type Election, type ElectOptions, type Leader, type TermEnd } from './election/index.js';
export { lockIdForKey, parseLockId, lockIdSql, slotIds } from './key/lock-id.js';
export { listAdvisoryLocks, describeHolder, type AdvisoryLockRow } from './sql/holders.js';
export { FENCE_FUNCTION, FENCE_ID_FUNCTION, CREATE_FENCE_FUNCTIONS, FENCED_SQLSTATE } from './runs/index.js';
export { RUNS_TABLE, CREATE_RUNS_TABLE, MIGRATE_RUNS_TABLE, describeRun, listRuns, type ListRunsFilter, type RunRecord, type RunOutcome, type RunEnd } from './runs/index.js';
export { HOLDERS_TABLE, CREATE_HOLDERS_TABLE, CREATE_CLAIM_FUNCTION, type TakeoverDelay } from './takeover/index.js';
export { resolveConnectionConfig, describeTarget, type ConnectionConfig } from './connection/index.js';
export {
  PglockError, UsageError, LockBusyError, LockTimeoutError, LockWaitAbortedError,
  DatabaseUnavailableError, StandbyError, LockLostError, RecentRunError, FencedError, PermissionError, type ReportedError,
} from './errors.js';
export { ExitCode } from './exit-codes.js';
