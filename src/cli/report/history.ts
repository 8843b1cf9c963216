import { describeTarget, openSession, applicationName } from '../../connection/index.js';
import { formatDuration } from '../../duration.js';
import { listAdvisoryLocks } from '../../sql/holders.js';
import { listRuns } from '../../runs/index.js';
import type { HistoryOptions } from '../args/options.js';
import { readRecords } from './read-records.js';
import { alignColumns, formatLockLabel, formatTime, printable } from './format.js';
import { type RunEntry, toRunEntry } from './status-entry.js';

// `pglock history --key K`: the key's kept runs (--history of them), newest first, on stdout: a
// table, or with --json one object { version: 1, key, lockId, runs: RunEntry[] } (RunEntry as in
// `status --json`).
export async function showHistory(options: HistoryOptions, write: (text: string) => void = (text) => void process.stdout.write(text)): Promise<number> {
  const session = await openSession(options.connection, {
    connectTimeoutMs: options.connectTimeoutMs,
    applicationName: applicationName('pglock-history'),
    heartbeatMs: 0,
    allowStandby: true,
  });
  const { runs, locks } = await readRecords(session, describeTarget(options.connection, session.host), async (sql) => ({
    runs: await listRuns(sql, { ids: [options.lockId], history: true, limit: options.limit }),
    locks: await listAdvisoryLocks(sql, { ids: [options.lockId] }),
  }));
  const entries = runs.map((run) => toRunEntry(run, locks));
  const label = formatLockLabel(options.key, options.lockId);
  if (options.json) write(`${JSON.stringify({ version: 1, key: options.key ?? null, lockId: String(options.lockId), runs: entries })}\n`);
  else write(entries.length === 0 ? `no recorded run of ${label} (runs are recorded with --record, --min-interval or --fencing-token)\n` : renderHistory(entries));
  return 0;
}

const COLUMNS = ['STARTED', 'ENDED', 'DURATION', 'HOST', 'PID', 'OUTCOME', 'EXIT', 'FENCING TOKEN'];

function renderHistory(entries: RunEntry[]): string {
  const rows = [COLUMNS, ...entries.map((entry) => [
    `${formatTime(entry.startedAt)} (${formatDuration(entry.ageMs)} ago)`,
    entry.endedAt === null ? '-' : formatTime(entry.endedAt),
    entry.durationMs === null ? '-' : formatDuration(entry.durationMs),
    entry.host === null ? '-' : printable(entry.host),
    entry.pglockPid === null ? '-' : String(entry.pglockPid),
    outcome(entry),
    entry.exitCode === null ? (entry.signal ?? '-') : String(entry.exitCode),
    entry.fencingToken,
  ])];
  return `${alignColumns(rows).join('\n')}\n`;
}

// An unfinished run: still running while its pglock holds the lock, else its end was never written.
function outcome(entry: RunEntry): string {
  if (entry.outcome !== 'running') return entry.outcome;
  return entry.holding === false ? 'no end recorded' : 'running';
}
