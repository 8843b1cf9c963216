import { describeConnectError, openSession, applicationName } from '../../connection/index.js';
import { describeTarget } from '../../connection/index.js';
import { DatabaseUnavailableError } from '../../errors.js';
import { type AdvisoryLockRow, keySlot, listAdvisoryLocks } from '../../sql/holders.js';
import { lockIdForKey } from '../../key/lock-id.js';
import { type RunRecord, RUNS_TABLE, listRuns } from '../../runs/index.js';
import type { Logger } from '../logger.js';
import { renderMetrics } from './metrics.js';
import { toRunEntry, toStatusEntry } from './status-entry.js';
import { renderLastRuns, renderLockTable, summarizeLocks } from './status-text.js';
import { writeAtomically } from './write-output.js';
import type { StatusOptions } from '../args/options.js';

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
  const entries = rows.map(toStatusEntry);
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
      : renderLockTable(entries, summarizeLocks(entries, options), new Date()) + renderLastRuns(runEntries, runs ?? [], options);
  if (options.output === undefined) write(report);
  else writeAtomically(options.output, report);
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
