import type { ChildProcess } from 'node:child_process';

export class ThrowawayPostgresError extends Error {}

export interface ClusterOptions {
  port?: number;
  /** listen_addresses (default 127.0.0.1); '' for Unix sockets only. */
  listen?: string;
  user?: string;
  password?: string;
  authMethod?: string;
  /** postgresql.conf settings: strings are quoted, numbers and booleans are not. */
  settings?: Record<string, string | number | boolean>;
  /** pg_hba.conf lines put before initdb's own. */
  hba?: string[];
  /** Part of the data directory's name. */
  label?: string;
}

export interface Cluster {
  readonly port: number;
  readonly host: string;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly url: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly baseDir: string;
  /** The OS user the server runs as (uid/gid set when this process is root). */
  readonly runAs: { name: string; uid?: number; gid?: number };
  readonly process: ChildProcess | undefined;
  readonly running: boolean;
  /** The last few KB the server wrote to stderr. */
  readonly log: string;
  configure(settings: Record<string, string | number>): void;
  prependHba(lines: string[]): void;
  writeDataFile(name: string, content: string | Buffer, mode?: number): string;
  createStandby(options?: ClusterOptions): Promise<Cluster>;
  start(): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  promote(): void;
  close(): Promise<void>;
}

export function createCluster(options?: ClusterOptions): Promise<Cluster>;
export function freePort(wanted?: number): Promise<number>;
