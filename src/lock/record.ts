import { hostname } from 'node:os';
import { type Session, applicationName, openSession } from '../connection/index.js';
import { RecentRunError } from '../errors.js';
import { displayKey } from '../key/display-key.js';
import { formatDuration } from '../duration.js';
import { type RunEnd, type RunRecord, describeRun, endRunStatement, startRun } from '../runs/index.js';
import { DEFAULT_CONNECT_TIMEOUT_MS } from './options.js';
import type { AcquireRequest } from './request.js';

/** A run whose start is in the run record, under the key's id. */
export interface RecordedRun {
  id: bigint;
  fencingToken: bigint;
  previous: RunRecord | undefined;
  /** Write the run's end from a new connection (the lock's own is gone). */
  recordElsewhere(end: RunEnd): Promise<void>;
}

// With a run record: the run's start (a new fencing token), unless a minimum interval says the last
// run is too recent. Written on the locked session, under the key's id (with a limit, all slots
// share it).
export async function recordStart(request: AcquireRequest, session: Session): Promise<RecordedRun | undefined> {
  if (request.record === undefined) return undefined;
  const start = {
    id: request.id, key: request.key, host: hostname(), pid: process.pid,
    ...(request.minIntervalMs === undefined ? {} : { minIntervalMs: request.minIntervalMs }),
    ...(request.options.history === undefined ? {} : { history: request.options.history }),
  };
  const result = await startRun(session.sql, start, request.record);
  if (!result.started) {
    // Holding the key's only lock, no run of it can still be running; with a limit, one may.
    const phrase = describeRun(result.previous, request.limit > 1 ? 'unknown' : 'no');
    throw new RecentRunError(
      `the last run of ${request.key === undefined ? `lock id ${request.id}` : `'${displayKey(request.key)}'`} ${phrase}, ` +
        `less than the minimum interval (${formatDuration(request.minIntervalMs!)}) ago`,
      result.previous, request.minIntervalMs!,
    );
  }
  return {
    id: request.id,
    fencingToken: result.fencingToken,
    previous: result.previous,
    recordElsewhere: (end) => recordEndElsewhere(request, result.fencingToken, end),
  };
}

// The lock's session is gone (the lock was lost): write the run's end from a new one, best effort
// and briefly. The row is only updated while it is still this run's (its fencing token).
async function recordEndElsewhere(request: AcquireRequest, fencingToken: bigint, end: RunEnd): Promise<void> {
  const session = await openSession(request.config, {
    connectTimeoutMs: Math.min(request.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, 5000),
    applicationName: applicationName(`pglock-record:${request.key ?? String(request.id)}`),
    heartbeatMs: 0,
  });
  try {
    await session.sql.unsafe(endRunStatement(request.id, fencingToken, end));
  } finally {
    await session.close().catch(() => undefined);
  }
}
