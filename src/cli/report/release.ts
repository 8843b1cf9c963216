import { type Session, describeConnectError, describeTarget, openSession, applicationName } from '../../connection/index.js';
import { DatabaseUnavailableError, PermissionError, ReleaseRefusedError } from '../../errors.js';
import { type AdvisoryLockRow, describeHolder, listAdvisoryLocks } from '../../sql/holders.js';
import { lockIdHalves } from '../../key/lock-id.js';
import { intLiteral } from '../../sql/literals.js';
import type { ReleaseOptions } from '../args/options.js';
import { formatLockLabel, printable } from './format.js';

// `pglock release --key K`: break a stuck lock by terminating the session that holds it. A pglock
// holder sees its session close, stops its command and exits 70, as on any loss, so the old
// command never goes on running unseen. A holder that is not a pglock (psql, an application)
// has no such watchdog: it is refused unless --force. Reports on stdout, one line per session.
export async function releaseHolders(options: ReleaseOptions, write: (text: string) => void = (text) => void process.stdout.write(text)): Promise<number> {
  const session = await openSession(options.connection, { connectTimeoutMs: options.connectTimeoutMs, applicationName: applicationName('pglock-release'), heartbeatMs: 0 });
  const target = describeTarget(options.connection, session.host);
  const label = formatLockLabel(options.key, options.lockId);
  try {
    const holders = (await listHolders(session, target)).filter((row) => row.lockId === String(options.lockId) || (options.key !== undefined && row.key === options.key && (row.slot ?? -1) >= 0));
    const strangers = holders.filter((row) => row.pglock === null);
    if (strangers.length > 0 && !options.force) {
      throw new ReleaseRefusedError(`the lock ${label} is held by ${strangers.map((row) => describeHolder(row)).join('; ')}, which is not a pglock ` +
        '(nothing would stop what it runs); nothing terminated: give --force to terminate it anyway');
    }
    const terminated: AdvisoryLockRow[] = [];
    for (const row of holders) if (await terminate(session, row, label, options, target)) terminated.push(row);
    if (options.json) {
      write(`${JSON.stringify({ version: 1, key: options.key ?? null, lockId: String(options.lockId), terminated: terminated.map(toJson) })}\n`);
    } else if (terminated.length === 0) {
      write(`nobody holds the lock ${label}; nothing to release\n`);
    } else {
      for (const row of terminated) write(`terminated backend ${row.pid}: ${describeHolder(row)}${row.pglock === null ? '' : ' (it stops its command and exits 70)'}\n`);
    }
    return 0;
  } finally {
    await session.close().catch(() => undefined);
  }
}

async function listHolders(session: Session, target: string): Promise<AdvisoryLockRow[]> {
  try {
    return (await listAdvisoryLocks(session.sql)).filter((row) => row.granted && row.pid !== 0 && row.pid !== session.backendPid);
  } catch (error) {
    throw new DatabaseUnavailableError(`cannot list the advisory locks at ${target}: ${describeConnectError(error)}`, { cause: error });
  }
}

// Terminate the backend only while it still holds that lock (one statement: a pid is not reused
// between the look and the kill). False: it had already let go.
async function terminate(session: Session, row: AdvisoryLockRow, label: string, options: ReleaseOptions, target: string): Promise<boolean> {
  const { classid, objid } = lockIdHalves(BigInt(row.lockId));
  try {
    const result = await session.sql.unsafe<{ done: boolean }[]>(`select pg_catalog.pg_terminate_backend(l.pid) as done from pg_catalog.pg_locks l
      where l.pid operator(pg_catalog.=) ${intLiteral(row.pid)} and l.locktype operator(pg_catalog.=) 'advisory' and l.granted and l.objsubid operator(pg_catalog.=) 1
        and l.classid operator(pg_catalog.=) ${intLiteral(BigInt(classid))}::pg_catalog.oid and l.objid operator(pg_catalog.=) ${intLiteral(BigInt(objid))}::pg_catalog.oid
        and l.database operator(pg_catalog.=) (select d.oid from pg_catalog.pg_database d where d.datname operator(pg_catalog.=) pg_catalog.current_database())`);
    return result[0]?.done === true;
  } catch (error) {
    if ((error as { code?: unknown }).code === '42501') {
      throw new PermissionError(`role '${options.connection.user}' may not terminate backend ${row.pid} (${whoHolds(row)}), which holds the lock ${label}: ` +
        `${describeConnectError(error)}; it takes the holder's own role, or membership in pg_signal_backend (a superuser's session: a superuser); ` +
        `as a superuser, run: grant pg_signal_backend to "${options.connection.user.replaceAll('"', '""')}";`, { cause: error });
    }
    throw new DatabaseUnavailableError(`cannot terminate backend ${row.pid} at ${target}: ${describeConnectError(error)}`, { cause: error });
  }
}

// The holder, for the one-line refusal: not describeHolder, which starts with the backend again and
// tells how to see hidden details (issue 28: the line read `backend 1 (backend 1 (user …; …))`).
function whoHolds(row: AdvisoryLockRow): string {
  const parts = [row.pglock === null ? (row.applicationName ? `application '${printable(row.applicationName)}'` : undefined) : `pglock on ${printable(row.pglock.host)} (pid ${row.pglock.pid})`];
  parts.push(row.user === null ? 'user hidden' : `user ${printable(row.user)}`);
  return parts.filter((part) => part !== undefined).join(', ');
}

function toJson(row: AdvisoryLockRow): Record<string, unknown> {
  return {
    pid: row.pid, lockId: row.lockId, slot: row.slot, pglock: row.pglock !== null, applicationName: row.applicationName,
    host: row.pglock?.host ?? null, pglockPid: row.pglock?.pid ?? null, user: row.user, since: row.since,
  };
}
