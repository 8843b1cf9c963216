// A real PostgreSQL for tests: a throwaway embedded server on a free port, started per test file
// and stopped after it; or the server named by PGLOCK_TEST_DATABASE_URL when that is set.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import postgres from 'postgres';
import { type Cluster, type ClusterOptions, createCluster, freePort } from '../../scripts/lib/throwaway-postgres.js';

export { freePort };

export interface TestServer {
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** An admin client for assertions (pg_locks, pg_stat_activity, pg_terminate_backend). */
  admin: postgres.Sql;
  /** True when the server is our own throwaway one (so it may be stopped and restarted). */
  own: boolean;
  /** Our own server's cluster (data directory, socket directory, stop modes); undefined if external. */
  cluster: Cluster | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface ServerOptions extends ClusterOptions {
  /** Always start a throwaway server, even when PGLOCK_TEST_DATABASE_URL is set. */
  own?: boolean;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function startTestServer(t: Teardown, options: ServerOptions = {}): Promise<TestServer> {
  const external = process.env.PGLOCK_TEST_DATABASE_URL;
  const server = external && !options.own ? useExternal(external) : await startOwn(options);
  t.teardown(() => server.close());
  return server;
}

function useExternal(url: string): TestServer {
  const parsed = new URL(url);
  const admin = adminClient(url);
  return {
    url,
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username),
    admin,
    own: false,
    cluster: undefined,
    stop: () => Promise.reject(new Error('cannot stop an external test server')),
    start: () => Promise.resolve(),
    close: () => admin.end({ timeout: 1 }),
  };
}

async function startOwn(options: ServerOptions): Promise<TestServer> {
  const { own: _own, ...clusterOptions } = options;
  const cluster = await createCluster({ label: 'test', ...clusterOptions });
  await cluster.start();
  return serverFor(cluster);
}

/** A TestServer view of a cluster of ours (for replication tests that start several). */
export function serverFor(cluster: Cluster): TestServer {
  const admin = adminClient(cluster.url);
  return {
    url: cluster.url, host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password,
    database: cluster.database, admin, own: true, cluster,
    stop: () => cluster.stop(),
    start: () => cluster.start(),
    async close() {
      await admin.end({ timeout: 1 });
      await cluster.close();
    },
  };
}

function adminClient(url: string): postgres.Sql {
  return postgres(url, { max: 2, onnotice: () => {}, idle_timeout: 5, connection: { application_name: 'pglock-test-admin' } });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A key no other test (or run against a shared server) uses. */
export function uniqueKey(label: string): string {
  return `test:${label}:${randomBytes(6).toString('hex')}`;
}
