// A throwaway PostgreSQL for one bench run, made by the same harness as the tests' server
// (scripts/lib/throwaway-postgres.js: scram-sha-256, random password, free port, fsync off), with
// room for the scale test's 300 concurrent sessions. close() works at any point (even mid-start), is
// idempotent, and is safe to call from a signal handler.
import postgres from 'postgres';
import { createCluster } from '../../scripts/lib/throwaway-postgres.js';

export const ADMIN_APPLICATION_NAME = 'pglock-bench-admin';
const MAX_CONNECTIONS = 400;

export class BenchServer {
  /** Set by start(): the connection URL, an admin postgres.js client, version, max_connections. */
  url;
  admin;
  version;
  maxConnections;
  #pg;
  #closing;

  async start() {
    this.#pg = await createCluster({ label: 'bench', settings: { max_connections: MAX_CONNECTIONS } });
    await this.#pg.start();
    this.url = this.#pg.url;
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
    await this.#pg?.close().catch(() => {});
  }
}
