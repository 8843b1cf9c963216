// A throwaway PostgreSQL for one bench run, made by the same harness as the tests' server
// (scripts/lib/throwaway-postgres.js: scram-sha-256, random password, free port, fsync off), with
// room for the scale test's 300 concurrent sessions. close() works at any point (even mid-start), is
// idempotent, and is safe to call from a signal handler.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { createCluster } from '../../scripts/lib/throwaway-postgres.js';

export const ADMIN_APPLICATION_NAME = 'pglock-bench-admin';
const MAX_CONNECTIONS = 400;

export class BenchServer {
  /** With a certificate ({ serverCert, serverKey }): a server that speaks TLS (ssl = on). */
  constructor({ tls } = {}) {
    this.tls = tls;
  }

  /** Set by start(): the connection URL, an admin postgres.js client, version, max_connections. */
  url;
  /** The URL for withlock (node-postgres): TLS without a certificate check on the TLS server. */
  withlockUrl;
  admin;
  version;
  maxConnections;
  /**
   * True when pg_stat_statements is loaded (the server's binaries ship it): the library bench counts
   * the statements a case sends with it. Dormant unless switched on (countStatements() in
   * measure/library.js): track = none and no query ids, so the other measurements pay nothing.
   */
  statementStats = false;
  #pg;
  #closing;

  async start() {
    this.#pg = await createCluster({ label: this.tls ? 'bench-tls' : 'bench', settings: { max_connections: MAX_CONNECTIONS } });
    if (this.tls) {
      this.#pg.writeDataFile('server.crt', this.tls.serverCert, 0o600);
      this.#pg.writeDataFile('server.key', this.tls.serverKey, 0o600);
      this.#pg.configure({ ssl: 'on', ssl_cert_file: "'server.crt'", ssl_key_file: "'server.key'" });
    }
    if (existsSync(join(this.#pg.binDir, '..', 'lib', 'postgresql', 'pg_stat_statements.so'))) {
      this.#pg.configure({ shared_preload_libraries: "'pg_stat_statements'", 'pg_stat_statements.track': 'none', compute_query_id: 'off' });
      this.statementStats = true;
    }
    await this.#pg.start();
    // pglock: no sslmode, so its default (prefer), as users run it: TLS whenever the server has it.
    this.url = this.#pg.url;
    this.withlockUrl = this.tls ? `${this.url}?sslmode=no-verify` : this.url;
    this.admin = postgres(this.url, { max: 2, onnotice: () => {}, connection: { application_name: ADMIN_APPLICATION_NAME } });
    [{ server_version: this.version }] = await this.admin`show server_version`;
    if (this.tls) {
      const [{ ssl }] = await this.admin`show ssl`;
      if (ssl !== 'on') throw new Error(`the TLS bench server has ssl = ${ssl}`);
    }
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
