import postgres from 'postgres';
import { LockWaitAbortedError, type PglockError } from '../errors.js';
import { sleep } from '../sleep.js';
import { type ConnectionConfig, type HostSpec, describeHost, hostsOf } from './config.js';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type SessionToken, type SetupLock, setUp } from './setup.js';
import { type TransportOptions, openTransport } from './transport.js';
import { type HostFailure, describeConnectError, isRetryable, unavailableError } from './errors.js';

export type Client = postgres.Sql;
export type ReservedSql = postgres.ReservedSql;

/** One dedicated database session: the connection the lock lives on. */
export interface Session {
  readonly sql: ReservedSql;
  /** The server this session is on. */
  readonly host: HostSpec;
  readonly backendPid: number;
  readonly serverVersion: number;
  /** True when the server is a standby (only with allowStandby; otherwise pglock refuses it). */
  readonly standby: boolean;
  /** True when something between pglock and PostgreSQL (e.g. PgBouncer) answered the startup. */
  readonly proxied: boolean;
  /** With `setupLock`: whether the session setup statement was granted the lock. */
  readonly setupLockGranted: boolean | undefined;
  /** With `setupLock`: whether its proof held in the same statement (pg_locks showed the grant on this backend). */
  readonly setupLockProven: boolean | undefined;
  /** With `setupLock.follow`: what that statement returned, or how it failed. */
  readonly setupFollow: { rows: readonly Record<string, unknown>[] } | { error: unknown } | undefined;
  /** Rounds of connection attempts it took (1: the first try worked). */
  readonly attempts: number;
  /** Resolves once the connection has closed, for whatever reason. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
  /** Close the session; pending queries get up to `timeoutMs` to finish. */
  close(timeoutMs?: number): Promise<void>;
}

export interface OpenSessionOptions {
  connectTimeoutMs: number;
  applicationName: string;
  /** Sets server-side keepalives and liveness checks so a vanished pglock is noticed quickly. */
  heartbeatMs: number;
  signal?: AbortSignal;
  onRetry?: (reason: string, delayMs: number, attempt: number) => void;
  /** Try a lock in the session setup statement itself, saving a round trip when not waiting. */
  setupLock?: SetupLock;
  /**
   * For waiters: keep trying through anything another try can mend (unreachable, refused, shutting
   * down, a standby, no free slot) until this time (Date.now() scale; Infinity: forever) rather than
   * for connectTimeoutMs, which then bounds each attempt (issue 29).
   */
  waitDeadline?: number;
  /**
   * With waitDeadline: called each time another connectTimeoutMs has passed without a session, with
   * the error a connect without it would have ended with; the waiter tries on.
   */
  onUnavailable?: (error: PglockError) => void;
  /**
   * Accept a standby when no host is a primary (for `pglock status`); by default a standby is
   * refused like an error.
   */
  allowStandby?: boolean;
  /** Called each time a connection attempt has started (its socket is connecting). */
  onConnecting?: () => void;
  /**
   * No session-level settings (for a transaction-mode pooler, where they would stay on a pooled
   * server connection that other clients get next).
   */
  noSessionSettings?: boolean;
  /** A lock session's token (takeover/token.ts): set and held by the setup statement. */
  token?: SessionToken;
}

// Open a dedicated session on a primary: try each host in order, as libpq does, and start over
// with backoff while none is reachable and primary (a server starting up, a failover under way),
// for up to connectTimeoutMs, or for a waiter until its waitDeadline. The client has max: 1, no idle
// timeout and no max lifetime, and the connection is reserved: postgres.js silently reconnects pool
// connections, which would drop a session lock unnoticed.
export async function openSession(config: ConnectionConfig, options: OpenSessionOptions): Promise<Session> {
  const hosts = hostsOf(config);
  const started = Date.now();
  const deadline = options.waitDeadline ?? started + options.connectTimeoutMs;
  let report = started + options.connectTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    const failures: HostFailure[] = [];
    let standby: Session | undefined;
    for (const spec of hosts) {
      try {
        const attemptMs = Math.min(options.connectTimeoutMs, Math.max(deadline - Date.now(), 250));
        const session = await connectOnce(config, spec, options, attemptMs, attempt);
        if (!session.standby) {
          await standby?.close(0);
          return session;
        }
        if (options.allowStandby && !standby) standby = session;
        else await session.close(0);
        failures.push({ spec, error: { code: 'ESTANDBY' } });
      } catch (error) {
        if (options.signal?.aborted) throw new LockWaitAbortedError('cancelled while connecting', { cause: error });
        failures.push({ spec, error });
      }
    }
    if (standby) return standby;
    const now = Date.now();
    // Errors that another try cannot mend (authentication, a missing database) end it at once.
    if (!failures.some(({ error }) => isRetryable(error)) || now >= deadline) {
      const triedMs = options.waitDeadline === undefined ? options.connectTimeoutMs : Math.min(deadline, now) - started;
      throw unavailableError(config, failures, triedMs, attempt > 1);
    }
    if (options.waitDeadline !== undefined && now >= report) {
      options.onUnavailable?.(unavailableError(config, failures, options.connectTimeoutMs, true));
      report = now + options.connectTimeoutMs;
    }
    const backoff = Math.min(100 * 1.6 ** (attempt - 1), 2000) * (0.75 + Math.random() / 2);
    const delay = Math.min(backoff, deadline - now);
    options.onRetry?.(describeFailures(failures), delay, attempt);
    await sleep(delay, options.signal);
    if (options.signal?.aborted) throw new LockWaitAbortedError('cancelled while connecting');
  }
}

// What is retried, and for how long: a standby like a refused connection, because a writer endpoint
// (HAProxy, a cloud DNS name) leads to the demoted member for a few seconds of every failover
// (issue 21); a fail-fast connect for connectTimeoutMs, so that a wrong address (a standby for good)
// ends; a waiter until its own deadline: a database that is down, refusing, shutting down, a standby
// or out of slots during the wait is something to wait through, like a busy lock (issue 29).

function describeFailures(failures: HostFailure[]): string {
  if (failures.length === 1) return describeConnectError(failures[0]!.error);
  return failures.map(({ spec, error }) => `${describeHost(spec)}: ${describeConnectError(error)}`).join('; ');
}

async function connectOnce(config: ConnectionConfig, spec: HostSpec, options: OpenSessionOptions, timeoutMs: number, attempts: number): Promise<Session> {
  let established = false;
  let closed = false;
  let dropped = false;
  let markClosed!: () => void;
  const closedPromise = new Promise<void>((resolve) => (markClosed = resolve));
  // The socket is opened now rather than when postgres.js asks for it: postgres.js starts a new
  // connection from a timer (setTimeout 0, a millisecond or more), and the TCP connect and the TLS
  // request go on meanwhile. A reconnect of postgres.js's own (never kept: see reserve() below)
  // opens a socket of its own.
  let early: Promise<Socket | TLSSocket> | undefined = openTransport(spec, transportOptions(config, spec, timeoutMs, options.onConnecting));
  early.catch(() => undefined);
  const client = postgres({
    ...clientOptions(config, spec, options.applicationName, timeoutMs, options.onConnecting),
    socket: () => {
      const socket = early ?? openTransport(spec, transportOptions(config, spec, timeoutMs));
      early = undefined;
      return socket;
    },
    onclose: () => {
      dropped = true;
      if (!established || closed) return;
      closed = true;
      markClosed();
    },
  } as postgres.Options<{}>);
  const abort = () => void client.end({ timeout: 0 });
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    // The first statement opens the connection through the pool, then reserve() takes that same
    // connection (max: 1). postgres.js 3.4.9 hangs in reserve() on a never-opened connection when
    // fetch_types is false, and fetching types would cost a round trip that pglock does not need.
    const { result, setupFollow } = await setUp(client, options, () => dropped);
    const settings = result[0];
    const sql = await client.reserve();
    // reserve() would silently open a new connection if the first one had dropped in between.
    if (dropped) throw Object.assign(new Error('the connection closed during session setup'), { code: 'CONNECTION_CLOSED' });
    established = true;
    return {
      sql,
      host: spec,
      backendPid: settings?.pid ?? 0,
      serverVersion: settings?.version ?? 0,
      standby: settings?.standby === true,
      attempts,
      // PostgreSQL's BackendKeyData carries the backend pid; a pooler sends a key of its own.
      proxied: result.state.pid !== settings?.pid,
      setupLockGranted: options.setupLock ? settings?.locked === true : undefined,
      setupLockProven: options.setupLock ? settings?.proven === true : undefined,
      setupFollow,
      closed: closedPromise,
      isClosed: () => closed,
      close: async (closeTimeoutMs = 2000) => {
        // A reserved connection keeps end() waiting until its timeout: hand it back first.
        if (!closed) sql.release();
        // end() sends Terminate at once, then waits for the server to close the socket.
        await client.end({ timeout: closeTimeoutMs / 1000 });
        if (!closed) {
          closed = true;
          markClosed();
        }
      },
    };
  } catch (error) {
    await client.end({ timeout: 0 });
    // Never handed to postgres.js: close it here.
    void early?.then((socket) => socket.destroy(), () => undefined);
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}

// postgres.js options for a dedicated, never-recycled connection.
function clientOptions(config: ConnectionConfig, spec: HostSpec, applicationName: string, timeoutMs: number, onConnecting?: () => void): postgres.Options<{}> {
  return {
    // host and port only name the server in postgres.js's messages: the socket is pglock's own.
    host: spec.host,
    port: spec.port,
    database: config.database,
    username: config.user,
    ...(password(config, spec) === undefined ? {} : { password: password(config, spec)! }),
    // pglock opens the socket and negotiates TLS itself (transport.ts): no-delay, per-host checks.
    ssl: false,
    socket: () => openTransport(spec, transportOptions(config, spec, timeoutMs, onConnecting)),
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    connect_timeout: timeoutMs / 1000,
    fetch_types: false,
    onnotice: () => {},
    // Only application_name goes in the startup packet: poolers such as PgBouncer reject others.
    connection: { application_name: applicationName },
  } as postgres.Options<{}>;
}

function transportOptions(config: ConnectionConfig, spec: HostSpec, timeoutMs: number, onConnecting?: () => void): TransportOptions {
  return { ssl: config.ssl, timeoutMs, directTls: config.directTls === true, onConnecting, password: password(config, spec) };
}

// A password given explicitly applies to every host; else the password file's line for this one.
function password(config: ConnectionConfig, spec: HostSpec): string | undefined {
  return config.password ?? spec.password;
}

/**
 * Through a pooler, ask a second, short-lived connection which backend it is given. A pool in
 * transaction or statement mode hands our idle server connection to the next client (PgBouncer
 * reuses server connections last-in first-out), so the probe lands on our own backend; a
 * session-mode pool keeps it pinned to us, so the probe gets another one.
 */
export async function probeBackendPid(config: ConnectionConfig, spec: HostSpec, applicationName: string): Promise<number> {
  const client = postgres({ ...clientOptions(config, spec, `${applicationName}:probe`.slice(0, 63), 5000), prepare: false });
  try {
    const [row] = await client<{ pid: number }[]>`select pg_catalog.pg_backend_pid() as pid`;
    return row?.pid ?? 0;
  } finally {
    await client.end({ timeout: 1 });
  }
}
