import { type ConnectionConfig, type Env, pickDatabaseUrl, resolveConnectionConfig } from '../../connection/index.js';
import { parseDuration } from '../../duration.js';
import { UsageError } from '../../errors.js';
import { lockIdForKey, parseLockId } from '../../key/lock-id.js';
import type { LogFormat } from './options.js';
import { parseLogFormat } from './parse-values.js';

// What the shared flags (common-flags.ts) become in the options objects.

/** --database-url, else the environment (PGLOCK_DATABASE_URL, DATABASE_URL, then as psql). */
export function resolveDatabaseUrl(databaseUrl: string | undefined, env: Env): ConnectionConfig {
  return resolveConnectionConfig(pickDatabaseUrl(databaseUrl, env), env);
}

/** What every database subcommand shares: the connection, its timeout, the log format. */
export function toCommonOptions(
  flags: { databaseUrl: string | undefined; connectTimeout: string; logFormat: string },
  env: Env,
): { connection: ConnectionConfig; connectTimeoutMs: number; logFormat: LogFormat } {
  const logFormat = parseLogFormat(flags.logFormat);
  return {
    connection: resolveDatabaseUrl(flags.databaseUrl, env),
    connectTimeoutMs: parseDuration(flags.connectTimeout, '--connect-timeout'),
    logFormat,
  };
}

/** --key or --lock-id (PGLOCK_KEY when neither is given; it yields to --lock-id). */
export function resolveTarget(flags: { key: string | undefined; lockId: string | undefined }, env: Env): { key: string | undefined; lockId: bigint } {
  if (flags.key !== undefined && flags.lockId !== undefined) throw new UsageError('give --key or --lock-id, not both');
  if (flags.lockId !== undefined) return { key: undefined, lockId: parseLockId(flags.lockId) };
  const key = flags.key ?? env.PGLOCK_KEY;
  if (key === undefined) throw new UsageError('a lock key is required: --key <name> (or PGLOCK_KEY), or --lock-id <int64>');
  if (key === '') throw new UsageError('the lock key must not be empty');
  return { key, lockId: lockIdForKey(key) };
}
