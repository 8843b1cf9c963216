// A real PostgreSQL for tests: a throwaway embedded server on a free port, started per test file
// and stopped after it; or the server named by PGLOCK_TEST_DATABASE_URL when that is set.
// With PGLOCK_TEST_TLS=1 (the suites under test/tls/ set it), our own server speaks TLS (ssl = on,
// a certificate from a CA minted here) and its URL says sslmode=require: every connection pglock
// makes in that file is TLS, or fails.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import postgres from 'postgres';
import { type Cluster, type ClusterOptions, createCluster, freePort } from '../../scripts/lib/throwaway-postgres.js';
import { mintServerCertificate } from './certificates.js';

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
  /** Set when the server speaks TLS (PGLOCK_TEST_TLS=1): its certificate and key files. */
  tls: TestTls | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface TestTls {
  serverCert: string;
  serverKey: string;
}

export interface ServerOptions extends ClusterOptions {
  /** Always start a throwaway server, even when PGLOCK_TEST_DATABASE_URL is set. */
  own?: boolean;
}

/** Whether this test file runs over TLS (the suites under test/tls/). */
export function testsUseTls(): boolean {
  return process.env.PGLOCK_TEST_TLS === '1';
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function startTestServer(t: Teardown, options: ServerOptions = {}): Promise<TestServer> {
  const external = process.env.PGLOCK_TEST_DATABASE_URL;
  // Over TLS the server must be our own: only ours can be given a certificate.
  const server = external && !options.own && !testsUseTls() ? useExternal(external) : await startOwn(options);
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
    tls: undefined,
    stop: () => Promise.reject(new Error('cannot stop an external test server')),
    start: () => Promise.resolve(),
    close: () => admin.end({ timeout: 1 }),
  };
}

async function startOwn(options: ServerOptions): Promise<TestServer> {
  const { own: _own, ...clusterOptions } = options;
  const cluster = await createCluster({ label: 'test', ...clusterOptions });
  const tls = testsUseTls() ? mintServerCertificate() : undefined;
  if (tls) {
    cluster.writeDataFile('server.crt', readFileSync(tls.serverCert), 0o600);
    cluster.writeDataFile('server.key', readFileSync(tls.serverKey), 0o600);
    cluster.configure({ ssl: 'on', ssl_cert_file: "'server.crt'", ssl_key_file: "'server.key'" });
  }
  await cluster.start();
  const server = serverFor(cluster, tls);
  if (tls) {
    const [row] = await server.admin<{ ssl: boolean }[]>`select ssl from pg_catalog.pg_stat_ssl where pid = pg_catalog.pg_backend_pid()`;
    if (row?.ssl !== true) throw new Error('the TLS test server does not speak TLS');
  }
  return server;
}

/** A TestServer view of a cluster of ours (for replication tests that start several). */
export function serverFor(cluster: Cluster, tls?: TestTls): TestServer {
  const url = tls ? `${cluster.url}?sslmode=require` : cluster.url;
  const admin = adminClient(url);
  return {
    url, host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password,
    database: cluster.database, admin, own: true, cluster, tls,
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
