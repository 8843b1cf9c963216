import { userInfo } from 'node:os';
import type { ConnectionConfig, Env } from './config.js';
import { pairHosts, parseTargetSessionAttrs } from './hosts.js';
import { sslSetting } from './tls.js';
import { parseDatabaseUrl } from './url.js';

/** The URL to use: the flag, else PGLOCK_DATABASE_URL, else DATABASE_URL; undefined → libpq env. */
export function pickDatabaseUrl(flag: string | undefined, env: Env): string | undefined {
  return nonEmpty(flag) ?? nonEmpty(env.PGLOCK_DATABASE_URL) ?? nonEmpty(env.DATABASE_URL);
}

const KNOWN_PARAMS = new Set(['sslmode', 'sslrootcert', 'host', 'port', 'dbname', 'user', 'password', 'target_session_attrs']);

// Resolve a connection from a URL and/or the libpq variables (PGHOST PGPORT PGUSER PGPASSWORD
// PGDATABASE PGSSLMODE PGSSLROOTCERT PGTARGETSESSIONATTRS). URL parts win; the environment fills
// what the URL leaves out, as libpq does. postgres.js ignores PGSSLMODE and DATABASE_URL, so
// pglock maps them here and hands postgres.js explicit options only.
export function resolveConnectionConfig(url: string | undefined, env: Env): ConnectionConfig {
  const fromUrl = url === undefined ? undefined : parseDatabaseUrl(url);
  const params = fromUrl?.params ?? new Map<string, string>();
  const user = fromUrl?.user ?? nonEmpty(env.PGUSER) ?? osUser();
  const sslmode = params.get('sslmode') ?? nonEmpty(env.PGSSLMODE) ?? 'prefer';
  const rootCert = params.get('sslrootcert') ?? nonEmpty(env.PGSSLROOTCERT);
  const hostList = list(params.get('host')) ?? written(fromUrl?.hosts) ?? list(nonEmpty(env.PGHOST)) ?? [''];
  const portList = list(params.get('port')) ?? written(fromUrl?.ports) ?? list(nonEmpty(env.PGPORT)) ?? [''];
  const hosts = pairHosts(hostList, portList);
  const config: ConnectionConfig = {
    host: hosts[0]!.host,
    port: hosts[0]!.port,
    hosts,
    database: fromUrl?.database ?? params.get('dbname') ?? nonEmpty(env.PGDATABASE) ?? user,
    user,
    ssl: sslSetting(sslmode, rootCert),
    ignoredParams: [...params.keys()].filter((name) => !KNOWN_PARAMS.has(name)),
  };
  const attrs = parseTargetSessionAttrs(params.get('target_session_attrs') ?? nonEmpty(env.PGTARGETSESSIONATTRS));
  if (attrs) config.targetSessionAttrs = attrs;
  const password = fromUrl?.password ?? params.get('password') ?? env.PGPASSWORD;
  if (password !== undefined && password !== '') config.password = password;
  return config;
}

// A URL's host or port list counts when it says anything, as in libpq: 'h1,h2' has two (empty, so
// default) ports, and PGPORT does not fill them.
function written(entries: string[] | undefined): string[] | undefined {
  return entries !== undefined && (entries.length > 1 || entries[0] !== '') ? entries : undefined;
}

function list(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : text.split(',').map((entry) => entry.trim());
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
