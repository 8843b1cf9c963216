import { hostname } from 'node:os';
import { type ConnectionConfig, applicationName, openSession } from '../connection/index.js';
import { listAdvisoryLocks } from '../sql/holders.js';

/** Who leads: the pglock process holding the election's lock, as the server shows it. */
export interface Leader {
  /** The leader's host and pid, from its application_name (null when it is not a pglock session). */
  host: string | null;
  pid: number | null;
  backendPid: number;
  /** Since when it has led (ISO time), when known. */
  since: string | null;
  /** True when this process is the leader. */
  self: boolean;
}

// Ask the server who holds the election's lock, on a short connection of its own (the election's
// connection is busy waiting): what `pglock status` reads, pg_locks with pg_stat_activity.
export async function findLeader(config: ConnectionConfig, id: bigint, connectTimeoutMs: number): Promise<Leader | undefined> {
  const session = await openSession(config, { connectTimeoutMs, applicationName: applicationName('pglock-probe'), heartbeatMs: 0 });
  try {
    const rows = await listAdvisoryLocks(session.sql, { ids: [id] });
    const holder = rows.find((row) => row.granted);
    if (holder === undefined) return undefined;
    return {
      host: holder.pglock?.host ?? null,
      pid: holder.pglock?.pid ?? null,
      backendPid: holder.pid,
      since: holder.since,
      self: holder.pglock?.pid === process.pid && hostname().startsWith(holder.pglock.host),
    };
  } finally {
    await session.close().catch(() => undefined);
  }
}
