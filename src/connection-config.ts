import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { UsageError } from './errors.js';

export type SslSetting = false | 'prefer' | 'require' | TlsOptions;

/** Where and how to connect: everything postgres.js needs, resolved from flags, URL and env. */
export interface ConnectionConfig {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  ssl: SslSetting;
  /** URL query parameters pglock does not use (reported in verbose mode). */
  ignoredParams: string[];
}

export type Env = Record<string, string | undefined>;

/** The URL to use: the flag, else PGLOCK_DATABASE_URL, else DATABASE_URL; undefined → libpq env. */
export function pickDatabaseUrl(flag: string | undefined, env: Env): string | undefined {
  return nonEmpty(flag) ?? nonEmpty(env.PGLOCK_DATABASE_URL) ?? nonEmpty(env.DATABASE_URL);
}

// Resolve a connection from a URL and/or the libpq variables (PGHOST PGPORT PGUSER PGPASSWORD
// PGDATABASE PGSSLMODE PGSSLROOTCERT). URL parts win; the environment fills what the URL leaves
// out, as libpq does. postgres.js ignores PGSSLMODE and DATABASE_URL, so pglock maps them here and
// hands postgres.js explicit options only.
export function resolveConnectionConfig(url: string | undefined, env: Env): ConnectionConfig {
  const fromUrl = url === undefined ? undefined : parseDatabaseUrl(url);
  const params = fromUrl?.params ?? new Map<string, string>();
  const user = fromUrl?.user ?? nonEmpty(env.PGUSER) ?? osUser();
  const sslmode = params.get('sslmode') ?? nonEmpty(env.PGSSLMODE) ?? 'prefer';
  const rootCert = params.get('sslrootcert') ?? nonEmpty(env.PGSSLROOTCERT);
  const portText = fromUrl?.port ?? params.get('port') ?? nonEmpty(env.PGPORT) ?? '5432';
  const config: ConnectionConfig = {
    host: fromUrl?.host ?? params.get('host') ?? nonEmpty(env.PGHOST) ?? 'localhost',
    port: parsePort(portText),
    database: fromUrl?.database ?? params.get('dbname') ?? nonEmpty(env.PGDATABASE) ?? user,
    user,
    ssl: sslSetting(sslmode, rootCert),
    ignoredParams: [...params.keys()].filter((name) => !KNOWN_PARAMS.has(name)),
  };
  const password = fromUrl?.password ?? params.get('password') ?? env.PGPASSWORD;
  if (password !== undefined && password !== '') config.password = password;
  return config;
}

const KNOWN_PARAMS = new Set(['sslmode', 'sslrootcert', 'host', 'port', 'dbname', 'user', 'password']);

interface UrlParts {
  host?: string;
  port?: string;
  database?: string;
  user?: string;
  password?: string;
  params: Map<string, string>;
}

// WHATWG URL errors carry the whole input (password included) in `input`: never let one escape.
function parseDatabaseUrl(text: string): UrlParts {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError('the database URL is malformed (not shown: it may contain a password)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new UsageError(`the database URL must start with postgres:// or postgresql://, got '${url.protocol}//'`);
  }
  const params = new Map([...url.searchParams]);
  const parts: UrlParts = { params };
  if (url.hostname) parts.host = decodeURIComponent(url.hostname.replace(/^\[|\]$/g, ''));
  if (url.port) parts.port = url.port;
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database) parts.database = database;
  if (url.username) parts.user = decodeURIComponent(url.username);
  if (url.password) parts.password = decodeURIComponent(url.password);
  if (params.has('user')) parts.user = params.get('user') as string;
  return parts;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new UsageError(`the database port must be a number from 1 to 65535, got '${text}'`);
  }
  return port;
}

// libpq's sslmode values, mapped onto what postgres.js understands.
function sslSetting(mode: string, rootCertPath: string | undefined): SslSetting {
  const ca = () => (rootCertPath && rootCertPath !== 'system' ? { ca: readRootCert(rootCertPath) } : {});
  switch (mode) {
    case 'disable':
      return false;
    case 'allow':
    case 'prefer':
      return 'prefer';
    case 'require':
      return 'require';
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined, ...ca() };
    case 'verify-full':
      return { rejectUnauthorized: true, ...ca() };
    default:
      throw new UsageError(`sslmode must be disable, allow, prefer, require, verify-ca or verify-full, got '${mode}'`);
  }
}

function readRootCert(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read sslrootcert '${path}': ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** A printable description of the target, never with the password: user@host:port/database. */
export function describeTarget(config: ConnectionConfig): string {
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `${config.user}@${host}:${config.port}/${config.database}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'postgres';
  }
}

/** Passwords embedded in URL-like text (user:password@host), so that output can mask them. */
export function passwordsIn(text: string | undefined): string[] {
  if (!text) return [];
  return [...text.matchAll(/:\/\/[^\s:/@]*:([^\s@]*)@/g)].flatMap((match) => {
    const raw = match[1] ?? '';
    return [safeDecode(raw), raw];
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
