import type { Lock } from './lock.js';
import { HELD_SINCE_COMMENT } from '../sql/lock-statements.js';
import { type ConnectionConfig, type HostSpec, type ReservedSql, describeHost, hostsOf, openSession } from '../connection/index.js';

// The superseded-holder check (issue 21). A session lock is tied to one server; when a standby is
// promoted while the old primary keeps running (a paused Patroni, a network split), a fresh pglock
// locks on the new primary while this one still holds its lock on the old: two run at once. While
// the command runs, check at an interval that no other server the connection settings lead to is
// a primary that can grant the lock anew: with several hosts, that no other listed host is a
// primary on a newer timeline; with one endpoint, that fresh connections through it reach no other
// primary, unless that one is on an older timeline (issue 29). A standby gives no verdict: it
// cannot grant the lock to anyone (a writer endpoint leads to the demoted member for a few seconds
// of every switchover, while the lock's holder is rightfully on the new primary). Nor does a host
// that cannot be reached: the lock's own heartbeat covers its server.

/**
 * Fresh connections per check through one endpoint, in parallel. While a proxy routes to two
 * primaries at once (HAProxy before it marks the old one down), one connection lands on either;
 * several make it likely that one reaches the other primary in this check, not in a later one.
 */
export const LOOKS_PER_CHECK = 3;

/** Which server a connection reached. */
export interface ServerIdentity {
  system: string;
  started: string;
  standby: boolean;
  /** The current timeline of a primary (null on a standby). */
  timeline: number | null;
}

const IDENTITY = `select (select s.system_identifier from pg_catalog.pg_control_system() s)::pg_catalog.text as system,
  pg_catalog.pg_postmaster_start_time()::pg_catalog.text as started, pg_catalog.pg_is_in_recovery() as standby,
  case when pg_catalog.pg_is_in_recovery() then null else ('x' operator(pg_catalog.||) pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::pg_catalog.bit(32)::pg_catalog.int4 end as timeline`;

/**
 * Which server this connection is on. `heldSince`: on a lock's own connection, the grant's time in
 * the comment the heartbeat uses, since `pglock status` reads it from the last statement.
 */
export async function readIdentity(sql: Pick<ReservedSql, 'unsafe'>, heldSince?: Date): Promise<ServerIdentity> {
  const since = heldSince === undefined ? '' : `${HELD_SINCE_COMMENT}${heldSince.toISOString()} */ `;
  const [row] = await sql.unsafe<ServerIdentity[]>(`${since}${IDENTITY}`);
  if (row === undefined) throw new Error('the server did not say who it is');
  return row;
}

export interface PrimaryCheckOptions {
  intervalMs: number;
  applicationName: string;
  /** The lock is superseded: treat it as lost. */
  onSuperseded: (reason: string) => void;
  /** A check could not be made (for verbose logs); not a loss. */
  onInconclusive?: (reason: string) => void;
}

/** Check at an interval that `lock`'s server is still the primary `config` leads to. */
export function watchPrimary(lock: Lock, config: ConnectionConfig, options: PrimaryCheckOptions): { stop(): void } {
  let stopped = false;
  let running = false;
  // Read at the first check, not at the start: a short command's release is not delayed by it.
  let own: Promise<ServerIdentity> | undefined;
  const timer = setInterval(() => void check(), options.intervalMs);
  timer.unref();

  async function check(): Promise<void> {
    if (running || stopped || !lock.isHeld) return;
    running = true;
    try {
      own ??= readIdentity(lock.sql, lock.heldSince).catch((error: unknown) => {
        own = undefined; // asked again at the next check
        throw error;
      });
      const verdict = await supersededBy(await own, lock.server, config, options);
      if (verdict !== undefined && !stopped && lock.isHeld) options.onSuperseded(verdict);
    } catch (error) {
      options.onInconclusive?.(`the primary check failed: ${(error as Error).message.split('\n')[0]}`);
    } finally {
      running = false;
    }
  }
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

// Why the lock's server is no longer the primary, or undefined while it is (or nothing can be told).
async function supersededBy(own: ServerIdentity, server: { host: string; port: number }, config: ConnectionConfig, options: PrimaryCheckOptions): Promise<string | undefined> {
  const hosts = hostsOf(config);
  if (hosts.length === 1) {
    const looks = await Promise.all(Array.from({ length: LOOKS_PER_CHECK }, () => identify(config, hosts[0]!, options)));
    const other = looks.find((seen) => seen !== undefined && supersedes(seen, own));
    if (other === undefined) return undefined;
    return `${describeHost(hosts[0]!)} now leads to another primary (${describe(other)}; the lock is on one ${describe(own)}): ` +
      'the lock no longer excludes a new holder there';
  }
  const others = hosts.filter((spec) => spec.host !== server.host || spec.port !== server.port);
  const seen = await Promise.all(others.map((spec) => identify(config, spec, options).then((identity) => ({ spec, identity }))));
  const newer = seen.find(({ identity }) => identity && !identity.standby && !sameServer(identity, own) && (identity.timeline ?? 0) > (own.timeline ?? 0));
  if (newer === undefined) return undefined;
  return `${describeHost(newer.spec)} is a primary on a newer timeline (${newer.identity!.timeline} > ${own.timeline}) while the lock is held on ` +
    `${describeHost({ ...server })}: a failover promoted it, and a new holder can lock there`;
}

/**
 * Whether a server reached through the lock's own endpoint supersedes the lock's server: it is a
 * primary (a standby grants nothing to anyone), not the lock's server, and not of the same cluster
 * on an older timeline (the stale old primary, still routed to, while the lock is rightfully on the
 * promoted one). Another cluster's primary (the endpoint moved) supersedes it whatever its timeline.
 */
export function supersedes(seen: ServerIdentity, own: ServerIdentity): boolean {
  if (seen.standby || sameServer(seen, own)) return false;
  return seen.system !== own.system || (seen.timeline ?? 0) >= (own.timeline ?? 0);
}

async function identify(config: ConnectionConfig, spec: HostSpec, options: PrimaryCheckOptions): Promise<ServerIdentity | undefined> {
  const one = { ...config, host: spec.host, port: spec.port, hosts: [spec] };
  try {
    const session = await openSession(one, {
      connectTimeoutMs: Math.min(options.intervalMs, 2000), applicationName: options.applicationName, heartbeatMs: 0, allowStandby: true,
      // A short connection needs no session settings, and through a transaction pooler they would stay behind.
      noSessionSettings: true,
    });
    try {
      return await readIdentity(session.sql);
    } finally {
      await session.close(0).catch(() => undefined);
    }
  } catch (error) {
    options.onInconclusive?.(`the primary check could not reach ${describeHost(spec)}: ${(error as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

function sameServer(a: ServerIdentity, b: ServerIdentity): boolean {
  return a.system === b.system && a.started === b.started && a.timeline === b.timeline;
}

function describe(identity: ServerIdentity): string {
  return `${identity.standby ? 'a standby' : `on timeline ${identity.timeline}`}, started ${identity.started}`;
}
