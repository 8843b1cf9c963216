import { userInfo } from 'node:os';
import type { ConnectionConfig, Env, HostSpec } from './config.js';
import { defaultSocketHosts, pairHosts, parseTargetSessionAttrs } from './hosts.js';
import { USED_KEYWORDS, type Params } from './keywords.js';
import { envParams, parseConnectionString, withDefaults } from './params.js';
import { passwordFilePath, passwordFromFile } from './password-file.js';
import { serviceParams } from './service.js';
import { isPreferOnly, sslSetting } from './tls.js';
import { UsageError } from '../errors.js';

/** The connection string to use: the flag, else PGLOCK_DATABASE_URL, else DATABASE_URL; undefined → libpq env. */
export function pickDatabaseUrl(flag: string | undefined, env: Env): string | undefined {
  return nonEmpty(flag) ?? nonEmpty(env.PGLOCK_DATABASE_URL) ?? nonEmpty(env.DATABASE_URL);
}

// Resolve a connection the way libpq does, in this order (the first that sets a parameter wins):
//   1. the connection string (a postgres:// URL or keyword=value pairs): -d, PGLOCK_DATABASE_URL,
//      DATABASE_URL, or the library's `url`;
//   2. the service it names (service=…, else PGSERVICE), from the service files (service.ts);
//   3. the libpq environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, … see keywords.ts);
//   4. the defaults: the Unix socket (/var/run/postgresql, else /tmp), port 5432, the OS user, a
//      database named like the user, sslmode prefer.
// Then, for each host, if no password was given: the password file (password-file.ts). postgres.js
// reads none of these by itself; pglock hands it explicit options only.
export function resolveConnectionConfig(text: string | undefined, env: Env): ConnectionConfig {
  const explicit = text === undefined ? new Map<string, string>() : parseConnectionString(text);
  const serviceName = nonEmpty(explicit.get('service')) ?? nonEmpty(env.PGSERVICE);
  const service = serviceName === undefined ? undefined : serviceParams(serviceName, env);
  const params = withDefaults(service ? withDefaults(explicit, service.params) : explicit, envParams(env));
  const get = (keyword: string) => nonEmpty(params.get(keyword));

  const user = get('user') ?? osUser();
  const database = get('dbname') ?? user;
  const portList = list(params.get('port')) ?? [''];
  const hosts = get('host') === undefined ? defaultSocketHosts(portList) : pairHosts(list(params.get('host'))!, portList);
  const config: ConnectionConfig = {
    host: hosts[0]!.host,
    port: hosts[0]!.port,
    hosts,
    database,
    user,
    ssl: sslSetting(get('sslmode') ?? 'prefer', {
      rootCert: get('sslrootcert'), cert: get('sslcert'), key: get('sslkey'), password: params.get('sslpassword'), env,
    }),
    ignoredParams: [...params.keys()].filter((keyword) => !USED_KEYWORDS.has(keyword) && !envOnly(keyword, explicit, service?.params)),
    notes: [],
  };
  if (service) config.service = { name: serviceName!, file: service.file };
  if (directTls(get('sslnegotiation'), get('sslmode') ?? 'prefer', config.ssl)) config.directTls = true;
  const attrs = parseTargetSessionAttrs(params.get('target_session_attrs'));
  if (attrs) config.targetSessionAttrs = attrs;
  const password = get('password');
  if (password !== undefined) config.password = password;
  else usePasswordFile(config, hosts, get('passfile'), env);
  return config;
}

// sslnegotiation as libpq 17: postgres (the SSLRequest first, the default) or direct (TLS at once,
// which only a server of PostgreSQL 17 or later understands, so only where TLS is required anyway).
function directTls(value: string | undefined, mode: string, ssl: ConnectionConfig['ssl']): boolean {
  if (value === undefined || value === 'postgres') return false;
  if (value !== 'direct') throw new UsageError(`sslnegotiation must be postgres or direct, got '${value}'`);
  if (ssl === false || isPreferOnly(ssl)) {
    throw new UsageError(`weak sslmode '${mode}' may not be used with sslnegotiation=direct (use require, verify-ca or verify-full)`);
  }
  return true;
}

// Each host may have its own line in the password file (libpq looks it up per host).
function usePasswordFile(config: ConnectionConfig, hosts: HostSpec[], passfile: string | undefined, env: Env): void {
  const file = passwordFilePath(passfile, env);
  for (const spec of hosts) {
    const found = passwordFromFile(file, spec.host, spec.port, config.database, config.user);
    if (found.warning && !config.notes?.includes(found.warning)) config.notes?.push(found.warning);
    if (found.password !== undefined && found.password !== '') {
      spec.password = found.password;
      config.passwordFile = file;
    }
  }
}

// The environment sets only keywords pglock uses; a keyword listed as ignored came from the
// connection string or the service.
function envOnly(keyword: string, explicit: Params, service: Params | undefined): boolean {
  return !explicit.has(keyword) && !(service?.has(keyword) ?? false);
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
