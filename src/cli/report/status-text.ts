import { RUNS_TABLE, type RunRecord, describeOutcome } from '../../runs/index.js';
import { formatAge } from '../../sql/holders.js';
import type { StatusOptions } from '../args/options.js';
import { displayKey } from '../../key/display-key.js';
import { alignColumns, formatAgo, formatTime, printable } from './format.js';
import { toStillRunning } from './run-holding.js';
import type { RunEntry, StatusEntry } from './status-entry.js';

// `pglock status` as text: the table of lock requests and its summary line, then the last runs.

/** The line under the table: how many locks, holders and waiters, and where. */
export function summarizeLocks(entries: StatusEntry[], options: StatusOptions): string {
  const where = `${options.key === undefined ? '' : ` for key '${displayKey(options.key)}'`} in database '${printable(options.connection.database)}'`;
  if (entries.length === 0) return `no advisory locks${where}`;
  const holders = entries.filter((entry) => entry.granted).length;
  const waiters = entries.length - holders;
  return `${plural(entries.length, 'advisory lock')}${where}: ${plural(holders, 'holder')}, ${plural(waiters, 'waiter')}`;
}

const COLUMNS = ['KEY', 'LOCK ID', 'STATE', 'MODE', 'PID', 'PGLOCK', 'APPLICATION', 'CLIENT', 'SINCE'] as const;

// An aligned table, one row per lock request, then the summary line. PID is the backend's;
// PGLOCK is the pglock process (host:pid); APPLICATION is shown for sessions that are not pglock.
export function renderLockTable(entries: StatusEntry[], last: string, now: Date): string {
  if (entries.length === 0) return `${last}\n`;
  const cells = entries.map((entry) => [
    entry.key === null ? '-' : `${displayKey(entry.key)}${slotLabel(entry.slot)}`,
    entry.lockId,
    entry.delayedUntil !== null ? `holding, start delayed until ${formatTime(entry.delayedUntil)}` : entry.granted ? 'holding' : 'waiting',
    entry.mode,
    entry.pid === 0 ? 'prepared' : String(entry.pid),
    entry.host === null ? '-' : `${printable(entry.host)}:${entry.pglockPid}`,
    entry.host !== null || !entry.applicationName ? '-' : printable(entry.applicationName),
    client(entry),
    since(entry, now),
  ]);
  const note = entries.some((entry) => entry.since === null && !entry.detailsHidden) ? `\n${UNKNOWN_SINCE}` : '';
  return `${alignColumns([COLUMNS, ...cells]).join('\n')}\n${last}${note}\n`;
}

// The legend for a SINCE that cannot be known (issue 28): said once, under the table.
const UNKNOWN_SINCE = 'SINCE unknown: PostgreSQL does not record when a lock was granted; pglock knows it only for a ' +
  "pglock's own lock (its heartbeat says), so for another session it shows when the session began: the lock was taken then or later";

function slotLabel(slot: number | null): string {
  if (slot === null || slot === 0) return '';
  return slot === -1 ? ' (gate)' : ` (slot ${slot})`;
}

function client(entry: StatusEntry): string {
  const user = entry.user === null ? '' : `${printable(entry.user)}@`;
  if (entry.detailsHidden) return `${user}(hidden)`;
  return `${user}${entry.clientAddr ?? 'local'}`;
}

function since(entry: StatusEntry, now: Date): string {
  if (entry.since === null && entry.detailsHidden) return '(hidden)';
  if (entry.since === null) {
    const began = entry.backendStart === null ? undefined : formatAge(entry.backendStart, now);
    return began === undefined ? 'unknown' : `unknown (session began ${began} ago)`;
  }
  const age = formatAge(entry.since, now);
  return `${age ?? '?'} ago (${formatTime(entry.since)})`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

// The last recorded runs: with --key one line (also when there is none), else a table of the keys.
export function renderLastRuns(entries: RunEntry[] | null, runs: RunRecord[], options: StatusOptions): string {
  if (entries === null) return '';
  const phrases = runs.map((run, i) => describeOutcome(run, toStillRunning(entries[i]!.holding)));
  if (options.key !== undefined) {
    const [entry] = entries;
    if (entry === undefined) return `no recorded run of '${displayKey(options.key)}' (runs are recorded with --record, --min-interval or --fencing-token)\n`;
    return `last run of '${displayKey(options.key)}': started ${started(entry)}${pglock(entry, ' on ')}, ${phrases[0]}; fencing token ${entry.fencingToken}\n`;
  }
  if (entries.length === 0) return '';
  const rows = [['KEY', 'STARTED', 'PGLOCK', 'OUTCOME', 'FENCING TOKEN'], ...entries.map((entry, i) => [
    entry.key === null ? `id ${entry.lockId}` : displayKey(entry.key), started(entry), pglock(entry) || '-', phrases[i]!, entry.fencingToken,
  ])];
  return `\nlast recorded runs (${RUNS_TABLE}):\n${alignColumns(rows).join('\n')}\n`;
}

function started(entry: RunEntry): string {
  return formatAgo(entry.ageMs, entry.startedAt);
}

function pglock(entry: RunEntry, prefix = ''): string {
  if (entry.host === null) return '';
  return `${prefix}${printable(entry.host)}${entry.pglockPid === null ? '' : prefix ? ` (pid ${entry.pglockPid})` : `:${entry.pglockPid}`}`;
}
