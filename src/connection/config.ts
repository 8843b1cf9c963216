import type { ConnectionOptions as TlsOptions } from 'node:tls';

export type SslSetting = false | 'prefer' | 'require' | TlsOptions;

/** One server to try: a host name or IP address with a TCP port, or a Unix socket directory. */
export interface HostSpec {
  /** Host name, IP address, or (starting with '/') the directory of a Unix socket. */
  host: string;
  port: number;
  /** The password for this server from the password file, when none was given otherwise. */
  password?: string;
}

/**
 * Which servers a session may use, as libpq's target_session_attrs. pglock locks only on a
 * primary, so only the values that allow a primary are accepted (see hosts.ts).
 */
export type TargetSessionAttrs = 'any' | 'read-write' | 'primary';

/** Where and how to connect: everything postgres.js needs, resolved from flags, URL and env. */
export interface ConnectionConfig {
  /** The first server (kept for callers that know one host only). */
  host: string;
  port: number;
  /** Every server to try, in order (libpq's host and port lists). Default: [{ host, port }]. */
  hosts?: HostSpec[];
  database: string;
  user: string;
  password?: string;
  ssl: SslSetting;
  /**
   * sslnegotiation=direct (PostgreSQL 17+): start TLS at once, without the SSLRequest round trip.
   * Only with an sslmode that requires TLS.
   */
  directTls?: boolean;
  targetSessionAttrs?: TargetSessionAttrs;
  /** Connection parameters pglock does not use (reported in verbose mode). */
  ignoredParams: string[];
  /** Warnings about the settings, for the user (a password file others may read, ignored). */
  notes?: string[];
  /** The service the settings came from, if any. */
  service?: { name: string; file: string };
  /** The password file a host's password came from, if any (named when authentication fails). */
  passwordFile?: string;
}

export type Env = Record<string, string | undefined>;

/** The servers to try, in order. */
export function hostsOf(config: ConnectionConfig): HostSpec[] {
  return config.hosts && config.hosts.length > 0 ? config.hosts : [{ host: config.host, port: config.port }];
}

/** host:port, [v6]:port, or the socket path, for messages. */
export function describeHost(spec: HostSpec): string {
  if (spec.host.startsWith('/')) return `${spec.host.replace(/\/$/, '')}/.s.PGSQL.${spec.port}`;
  return `${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`;
}

/** A printable description of the target, never with the password: user@host:port[,host:port]/database. */
export function describeTarget(config: ConnectionConfig, only?: HostSpec): string {
  const hosts = only ? [only] : hostsOf(config);
  return `${config.user}@${hosts.map(describeHost).join(',')}/${config.database}`;
}
