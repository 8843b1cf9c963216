import { describeConnectError, openSession } from '../connection/index.js';
import { describeTarget } from '../connection/index.js';
import { DatabaseUnavailableError } from '../errors.js';
import { type AdvisoryLockRow, formatAge, keySlot, listAdvisoryLocks } from '../holders.js';
import { applicationName } from '../lock.js';
import type { Logger } from './logger.js';
import type { StatusOptions } from './options.js';

/**
 * One element of `pglock status --json` (a JSON array of these, on one line):
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

// `pglock status [--key K] [--json]`: the advisory locks of the database, holders and waiters, on
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
  try {
    rows = await listAdvisoryLocks(session.sql);
  } catch (error) {
    throw new DatabaseUnavailableError(`cannot list the advisory locks at ${describeTarget(options.connection, session.host)}: ${describeConnectError(error)}`, { cause: error });
  } finally {
    await session.close().catch(() => undefined);
  }
  if (options.key !== undefined) rows = onlyKey(rows, options.key);
  const entries = rows.map(toEntry);
  const hidden = new Set(entries.filter((entry) => entry.detailsHidden).map((entry) => entry.pid));
  if (hidden.size > 0) {
    log.notice(`the details of ${hidden.size} ${hidden.size === 1 ? 'session' : 'sessions'} of other roles are hidden from ` +
      `role '${options.connection.user}'; a role with pg_read_all_stats sees them`);
  }
  if (options.json) write(`${JSON.stringify(entries)}\n`);
  else write(renderTable(entries, summary(entries, options), new Date()));
  return 0;
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
