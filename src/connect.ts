import postgres from 'postgres';
import { type ConnectionConfig, describeTarget } from './connection-config.js';
import { DatabaseUnavailableError, LockWaitAbortedError } from './errors.js';
import { formatDuration } from './duration.js';
import { tryLockCall } from './lock-sql.js';
import { intLiteral } from './sql-int.js';

export type Client = postgres.Sql;
export type ReservedSql = postgres.ReservedSql;

/** One dedicated database session: the connection the lock lives on. */
export interface Session {
  readonly sql: ReservedSql;
  readonly backendPid: number;
  readonly serverVersion: number;
  /** True when something between pglock and PostgreSQL (e.g. PgBouncer) answered the startup. */
  readonly proxied: boolean;
  /** With `tryLock`: whether the session setup statement was granted the lock. */
  readonly tryLockGranted: boolean | undefined;
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
  onRetry?: (reason: string, delayMs: number) => void;
  /** Try the lock in the session setup statement itself, saving a round trip when not waiting. */
  tryLock?: { id: bigint; shared: boolean };
}

// Open a dedicated session, retrying with backoff while the server is unreachable or starting up.
// The client has max: 1, no idle timeout and no max lifetime, and the connection is reserved:
// postgres.js silently reconnects pool connections, which would drop a session lock unnoticed.
export async function openSession(config: ConnectionConfig, options: OpenSessionOptions): Promise<Session> {
  const deadline = Date.now() + options.connectTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    const remaining = deadline - Date.now();
    try {
      return await connectOnce(config, options, Math.max(remaining, 250));
    } catch (error) {
      if (options.signal?.aborted) throw new LockWaitAbortedError('cancelled while connecting', { cause: error });
      const reason = describeConnectError(error);
      if (!isRetryable(error) || Date.now() >= deadline) {
        throw unavailableError(config, error, reason, options.connectTimeoutMs, attempt > 0);
      }
      const backoff = Math.min(100 * 1.6 ** attempt, 2000) * (0.75 + Math.random() / 2);
      const delay = Math.min(backoff, deadline - Date.now());
      options.onRetry?.(reason, delay);
      await sleep(delay, options.signal);
      if (options.signal?.aborted) throw new LockWaitAbortedError('cancelled while connecting');
    }
  }
}

async function connectOnce(config: ConnectionConfig, options: OpenSessionOptions, timeoutMs: number): Promise<Session> {
  let established = false;
  let closed = false;
  let dropped = false;
  let markClosed!: () => void;
  const closedPromise = new Promise<void>((resolve) => (markClosed = resolve));
  const client = postgres({
    ...clientOptions(config, options.applicationName, timeoutMs),
    onclose: () => {
      dropped = true;
      if (!established || closed) return;
      closed = true;
      markClosed();
    },
  });
  const abort = () => void client.end({ timeout: 0 });
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    // The first statement opens the connection through the pool, then reserve() takes that same
    // connection (max: 1). postgres.js 3.4.9 hangs in reserve() on a never-opened connection when
    // fetch_types is false, and fetching types would cost a round trip that pglock does not need.
    const result = await prepareSession(client, options.heartbeatMs, options.tryLock);
    const settings = result[0];
    const sql = await client.reserve();
    // reserve() would silently open a new connection if the first one had dropped in between.
    if (dropped) throw Object.assign(new Error('the connection closed during session setup'), { code: 'CONNECTION_CLOSED' });
    established = true;
    return {
      sql,
      backendPid: settings?.pid ?? 0,
      serverVersion: settings?.version ?? 0,
      // PostgreSQL's BackendKeyData carries the backend pid; a pooler sends a key of its own.
      proxied: result.state.pid !== settings?.pid,
      tryLockGranted: options.tryLock ? settings?.locked === true : undefined,
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
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}

// postgres.js options for a dedicated, never-recycled connection.
function clientOptions(config: ConnectionConfig, applicationName: string, timeoutMs: number): postgres.Options<{}> {
  return {
    host: config.host,
    port: config.port,
    database: config.database,
    username: config.user,
    ...(config.password === undefined ? {} : { password: config.password }),
    ssl: config.ssl as postgres.Options<{}>['ssl'],
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    connect_timeout: timeoutMs / 1000,
    fetch_types: false,
    onnotice: () => {},
    // Only application_name goes in the startup packet: poolers such as PgBouncer reject others.
    connection: { application_name: applicationName },
  };
}

/**
 * Through a pooler, ask a second, short-lived connection which backend it is given. A pool in
 * transaction or statement mode hands our idle server connection to the next client (PgBouncer
 * reuses server connections last-in first-out), so the probe lands on our own backend; a
 * session-mode pool keeps it pinned to us, so the probe gets another one.
 */
export async function probeBackendPid(config: ConnectionConfig, applicationName: string): Promise<number> {
  const client = postgres({ ...clientOptions(config, `${applicationName}:probe`.slice(0, 63), 5000), prepare: false });
  try {
    const [row] = await client<{ pid: number }[]>`select pg_backend_pid() as pid`;
    return row?.pid ?? 0;
  } finally {
    await client.end({ timeout: 1 });
  }
}

// Per-session settings, in one statement. Role-level timeouts would kill an idle lock session or
// a long wait, so they are switched off. Keepalives, tcp_user_timeout and (PG 14+)
// client_connection_check_interval make the server drop a silent pglock within a few heartbeats.
// With tryLock, the same statement also tries the lock, so a run that does not wait needs one
// round trip after the startup.
function prepareSession(sql: Client, heartbeatMs: number, tryLock?: { id: bigint; shared: boolean }) {
  const beat = Math.ceil(heartbeatMs > 0 ? heartbeatMs : 5000);
  const seconds = intLiteral(Math.max(1, Math.ceil(beat / 1000)));
  const lock = tryLock === undefined ? 'null::boolean' : tryLockCall(tryLock.id, tryLock.shared);
  return sql.unsafe<{ pid: number; version: number; locked: boolean | null }[]>(`
    select pg_backend_pid() as pid, v.version,
      set_config('statement_timeout', '0', false),
      set_config('lock_timeout', '0', false),
      set_config('idle_in_transaction_session_timeout', '0', false),
      case when v.version >= 140000 then set_config('idle_session_timeout', '0', false) end,
      set_config('tcp_keepalives_idle', '${seconds}', false),
      set_config('tcp_keepalives_interval', '${seconds}', false),
      set_config('tcp_keepalives_count', '2', false),
      case when v.version >= 120000 then set_config('tcp_user_timeout', '${intLiteral(beat * 2)}', false) end,
      case when v.version >= 140000 then set_config('client_connection_check_interval', '${intLiteral(beat)}', false) end,
      ${lock} as locked
    from (select current_setting('server_version_num')::int as version) v`);
}

const RETRYABLE = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND',
  'EAI_AGAIN', 'ENOENT', 'EPIPE', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED',
  'CONNECTION_DESTROYED', '57P01', '57P02', '57P03', '53300', '08000', '08001', '08004', '08006',
]);

function isRetryable(error: unknown): boolean {
  return RETRYABLE.has(errorCode(error));
}

const NETWORK_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  CONNECT_TIMEOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ENOENT: 'no such socket',
  CONNECTION_CLOSED: 'connection closed by the server',
  CONNECTION_ENDED: 'connection ended',
  CONNECTION_DESTROYED: 'connection closed',
};

/** One line saying why a connection failed: the server's message, or the network error. */
export function describeConnectError(error: unknown): string {
  const code = errorCode(error);
  if (NETWORK_TEXT[code]) return `${NETWORK_TEXT[code]} (${code})`;
  const message = error instanceof Error ? firstLine(error.message) : String(error);
  return code ? `${message} (${code})` : message;
}

function unavailableError(config: ConnectionConfig, error: unknown, reason: string, timeoutMs: number, retried: boolean) {
  const target = describeTarget(config);
  const code = errorCode(error);
  if (code === '28P01' || code === '28000') {
    return new DatabaseUnavailableError(`authentication failed for ${target}: ${reason}`, { cause: error, code: 'EAUTH' });
  }
  if (code === '3D000') {
    return new DatabaseUnavailableError(`database '${config.database}' does not exist at ${target}`, { cause: error, code: 'ENODATABASE' });
  }
  const within = retried ? ` within ${formatDuration(timeoutMs)}` : '';
  return new DatabaseUnavailableError(`cannot connect to ${target}${within}: ${reason}${tlsHint(config, code)}`, { cause: error });
}

// With sslmode require or verify-*, postgres.js starts TLS even after the server has answered that
// it does not do TLS; the server then drops the connection, which shows only as a reset.
function tlsHint(config: ConnectionConfig, code: string): string {
  const tlsRequired = config.ssl !== false && config.ssl !== 'prefer';
  const dropped = code === 'ECONNRESET' || code === 'CONNECTION_CLOSED' || code === 'EPIPE';
  return tlsRequired && dropped ? '; the sslmode requires TLS: does the server accept TLS connections?' : '';
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
