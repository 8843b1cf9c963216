import { describeConnectError, openSession, applicationName } from '../../connection/index.js';
import { describeTarget } from '../../connection/index.js';
import { formatDuration } from '../../duration.js';
import { DatabaseUnavailableError } from '../../errors.js';
import { type AdvisoryLockRow, formatAge, keySlot, listAdvisoryLocks } from '../../sql/holders.js';
import { lockIdForKey } from '../../key/lock-id.js';
import { type RunRecord, RUNS_TABLE, describeOutcome, listRuns } from '../../runs/index.js';
import type { Logger } from '../logger.js';
import { renderMetrics } from './metrics.js';
import { findHolding, toStillRunning } from './run-holding.js';
import { writeAtomically } from './write-output.js';
import type { StatusOptions } from '../args/options.js';

/**
 * `pglock status --json` prints one line: { "version": 2, "locks": StatusEntry[], "runs": RunEntry[] | null }
 * (version 1, before the run record, was the bare array of locks). `runs` is null when the role
 * may not read the run record.
 *
 * One element of `locks`:
 *
 *   key             string | null   the pglock key of the lock (from the session's application_name,
 *                                   or with --key the key asked for); null when unknown
 *   slot            number | null   with key: 0 the key's own lock, n a --limit slot, -1 the --limit gate
 *   lockId          string          signed 64-bit id, or "key1:key2" for pg_advisory_lock(int, int)
 *   granted         boolean         true: holding the lock; false: waiting for it
 *   mode            "exclusive" | "shared"
 *   pid             number          the PostgreSQL backend pid (0: a prepared transaction)
 *   applicationName string | null
 *   host            string | null   the pglock process's host, when the session is a pglock
 *   pglockPid       number | null   the pglock process's pid, when the session is a pglock
 *   clientAddr      string | null   null also for a Unix-socket connection
 *   user            string | null
 *   since           string | null   ISO time: holding since (null when unknown), or waiting since
 *   backendStart    string | null   ISO time the session connected
 *   detailsHidden   boolean         PostgreSQL hid the session's details from this role
 */
export interface StatusEntry {
  key: string | null;
  slot: number | null;
  lockId: string;
  granted: boolean;
  mode: 'exclusive' | 'shared';
  pid: number;
  applicationName: string | null;
  host: string | null;
  pglockPid: number | null;
  clientAddr: string | null;
  user: string | null;
  since: string | null;
  backendStart: string | null;
  detailsHidden: boolean;
}

/**
 * One element of `runs`: the last recorded run of a lock id (see runs/read.ts), newest first.
 *
 *   key          string | null   the key (null for a run by --lock-id)
 *   lockId       string          the key's id (with --limit, the runs of all its slots are here)
 *   fencingToken string
 *   startedAt    string          ISO time, by the database's clock
 *   endedAt      string | null   null while running, or when the end was never recorded
 *   durationMs   number | null
 *   ageMs        number          how long ago it started, by the database's clock
 *   host         string | null   the pglock process's host and pid
 *   pglockPid    number | null
 *   outcome      "running" | "exited" | "signaled" | "lock-lost" | "timed-out" | "not-started" | "completed" | "failed" | "released"
 *   exitCode     number | null
 *   signal       string | null
 *   holding      boolean | null  whether that pglock holds the key's lock now (null: cannot tell,
 *                                the holders' details are hidden from this role)
 */
export interface RunEntry {
  key: string | null;
  lockId: string;
  fencingToken: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  ageMs: number;
  host: string | null;
  pglockPid: number | null;
  outcome: RunRecord['outcome'];
  exitCode: number | null;
  signal: string | null;
  holding: boolean | null;
}

// `pglock status [--key K] [--json | --format prometheus] [--output FILE]`: the advisory locks of the database, holders and waiters, on
// stdout (what was asked for); stderr only for notes. Connection failures propagate as the
// DatabaseUnavailableError openSession throws.
export async function showStatus(options: StatusOptions, log: Logger, write: (text: string) => void = (text) => void process.stdout.write(text)): Promise<number> {
  const session = await openSession(options.connection, {
    connectTimeoutMs: options.connectTimeoutMs,
    applicationName: applicationName('pglock-status'),
    heartbeatMs: 0,
    allowStandby: true,
  });
  if (session.standby) {
    log.warn(`${describeTarget(options.connection, session.host)} is a standby (in recovery): the locks listed are this server's own, ` +
      'not the primary\'s (advisory locks are not replicated); pglock never locks on a standby');
  }
  let rows: AdvisoryLockRow[];
  let runs: RunRecord[] | null = null;
  let history: RunRecord[] = [];
  try {
    rows = await listAdvisoryLocks(session.sql);
    try {
      const ids = options.key === undefined ? {} : { ids: [lockIdForKey(options.key)] };
      runs = await listRuns(session.sql, ids);
      if (options.format === 'prometheus') history = await listRuns(session.sql, { ...ids, history: true });
    } catch (error) {
      if ((error as { code?: unknown }).code !== '42501') throw error;
      log.notice(`role '${options.connection.user}' may not read the run record ${RUNS_TABLE} (${describeConnectError(error)}); grant it select to see the last runs`);
    }
  } catch (error) {
    throw new DatabaseUnavailableError(`cannot list the advisory locks at ${describeTarget(options.connection, session.host)}: ${describeConnectError(error)}`, { cause: error });
  } finally {
    await session.close().catch(() => undefined);
  }
  const held = rows;
  if (options.key !== undefined) rows = onlyKey(rows, options.key);
  const entries = rows.map(toEntry);
  const runEntries = runs === null ? null : runs.map((run) => toRunEntry(run, held));
  const hidden = new Set(entries.filter((entry) => entry.detailsHidden).map((entry) => entry.pid));
  if (hidden.size > 0) {
    log.notice(`the details of ${hidden.size} ${hidden.size === 1 ? 'session' : 'sessions'} of other roles are hidden from ` +
      `role '${options.connection.user}'; a role with pg_read_all_stats sees them`);
  }
  const report = options.format === 'prometheus'
    ? renderMetrics(runs ?? [], history, rows)
    : options.json
      ? `${JSON.stringify({ version: 2, locks: entries, runs: runEntries })}\n`
      : renderTable(entries, summary(entries, options), new Date()) + renderRuns(runEntries, runs ?? [], options);
  if (options.output === undefined) write(report);
  else writeAtomically(options.output, report);
  return 0;
}

export function toRunEntry(run: RunRecord, locks: AdvisoryLockRow[]): RunEntry {
  return {
    key: run.key,
    lockId: String(run.lockId),
    fencingToken: String(run.fencingToken),
    startedAt: run.startedAt.toISOString(),
    endedAt: run.endedAt?.toISOString() ?? null,
    durationMs: run.endedAt === null ? null : Math.max(0, run.endedAt.getTime() - run.startedAt.getTime()),
    ageMs: run.ageMs,
    host: run.host,
    pglockPid: run.pid,
    outcome: run.outcome,
    exitCode: run.exitCode,
    signal: run.signal,
    holding: findHolding(run, locks),
  };
}

// The last recorded runs: with --key one line (also when there is none), else a table of the keys.
function renderRuns(entries: RunEntry[] | null, runs: RunRecord[], options: StatusOptions): string {
  if (entries === null) return '';
  const phrases = runs.map((run, i) => describeOutcome(run, toStillRunning(entries[i]!.holding)));
  if (options.key !== undefined) {
    const [entry] = entries;
    if (entry === undefined) return `no recorded run of '${printable(options.key)}' (runs are recorded with --record, --min-interval or --fencing-token)\n`;
    return `last run of '${printable(options.key)}': started ${started(entry)}${pglock(entry, ' on ')}, ${phrases[0]}; fencing token ${entry.fencingToken}\n`;
  }
  if (entries.length === 0) return '';
  const rows = [['KEY', 'STARTED', 'PGLOCK', 'OUTCOME', 'FENCING TOKEN'], ...entries.map((entry, i) => [
    entry.key === null ? `id ${entry.lockId}` : printable(entry.key), started(entry), pglock(entry) || '-', phrases[i]!, entry.fencingToken,
  ])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
  return `\nlast recorded runs (${RUNS_TABLE}):\n${lines.join('\n')}\n`;
}

function started(entry: RunEntry): string {
  return `${formatDuration(entry.ageMs)} ago (${entry.startedAt.replace(/\.\d+Z$/, 'Z')})`;
}

function pglock(entry: RunEntry, prefix = ''): string {
  if (entry.host === null) return '';
  return `${prefix}${printable(entry.host)}${entry.pglockPid === null ? '' : prefix ? ` (pid ${entry.pglockPid})` : `:${entry.pglockPid}`}`;
}

// --key: the key's own lock, its --limit slots and gate, whoever holds them (a plain SQL session
// holding the key's id is named with the key too).
function onlyKey(rows: AdvisoryLockRow[], key: string): AdvisoryLockRow[] {
  return rows.flatMap((row) => {
    if (row.key === key) return [row];
    const slot = keySlot(row.lockId, key);
    return slot === null ? [] : [{ ...row, key, slot }];
  });
}

function toEntry(row: AdvisoryLockRow): StatusEntry {
  return {
    key: row.key,
    slot: row.slot,
    lockId: row.lockId,
    granted: row.granted,
    mode: row.mode,
    pid: row.pid,
    applicationName: row.applicationName,
    host: row.pglock?.host ?? null,
    pglockPid: row.pglock?.pid ?? null,
    clientAddr: row.clientAddr,
    user: row.user,
    since: row.since,
    backendStart: row.backendStart,
    detailsHidden: row.detailsHidden,
  };
}

function summary(entries: StatusEntry[], options: StatusOptions): string {
  const where = `${options.key === undefined ? '' : ` for key '${printable(options.key)}'`} in database '${printable(options.connection.database)}'`;
  if (entries.length === 0) return `no advisory locks${where}`;
  const holders = entries.filter((entry) => entry.granted).length;
  const waiters = entries.length - holders;
  return `${plural(entries.length, 'advisory lock')}${where}: ${plural(holders, 'holder')}, ${plural(waiters, 'waiter')}`;
}

const COLUMNS = ['KEY', 'LOCK ID', 'STATE', 'MODE', 'PID', 'PGLOCK', 'APPLICATION', 'CLIENT', 'SINCE'] as const;

// An aligned table, one row per lock request, then the summary line. PID is the backend's;
// PGLOCK is the pglock process (host:pid); APPLICATION is shown for sessions that are not pglock.
function renderTable(entries: StatusEntry[], last: string, now: Date): string {
  if (entries.length === 0) return `${last}\n`;
  const cells = entries.map((entry) => [
    entry.key === null ? '-' : `${printable(entry.key)}${slotLabel(entry.slot)}`,
    entry.lockId,
    entry.granted ? 'holding' : 'waiting',
    entry.mode,
    entry.pid === 0 ? 'prepared' : String(entry.pid),
    entry.host === null ? '-' : `${printable(entry.host)}:${entry.pglockPid}`,
    entry.host !== null || !entry.applicationName ? '-' : printable(entry.applicationName),
    client(entry),
    since(entry, now),
  ]);
  const rows = [[...COLUMNS], ...cells];
  const widths = COLUMNS.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
  return `${lines.join('\n')}\n${last}\n`;
}

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
  if (entry.since === null) return entry.detailsHidden ? '(hidden)' : '?';
  const age = formatAge(entry.since, now);
  return `${age ?? '?'} ago (${entry.since.replace(/\.\d+Z$/, 'Z')})`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

// Keys and names are shown on one line: control characters become '?'.
function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, '?');
}
