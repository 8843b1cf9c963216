import { type Env, pickDatabaseUrl, resolveConnectionConfig } from '../../connection/index.js';
import { parseDuration } from '../../duration.js';
import { UsageError } from '../../errors.js';
import { lockIdForKey, parseLockId } from '../../key/lock-id.js';
import { parseCount, parsePositiveDuration } from './parse-values.js';
import { CONNECT_TIMEOUT, DATABASE_URL, HELP, JSON_FLAG, KEY, LOCK_ID, LOG_FORMAT } from './common-flags.js';
import type { ProgramSpec } from './scan-args.js';
import type { CheckOptions, HistoryOptions, LogFormat, ReleaseOptions } from './options.js';

// The operators' subcommands (check, and after it history and release): their tables and the
// typed options each makes. parse-args.ts dispatches to them by the first argument.

type Flags = Record<string, string | boolean | undefined>;

export const CHECK: ProgramSpec = {
  name: 'pglock check',
  usage: 'pglock check --key <name> --max-age <duration> [options]',
  description:
    "A dead man's check for probes: exit 0 when the key's last recorded run started within --max-age and exited 0, by the database's clock; " +
    'else 1 (too old), 2 (it failed), 3 (still running, longer than --max-age), 4 (never ran), 69 (database unavailable). One line on stdout says which and when.',
  operands: [],
  flags: [
    KEY,
    LOCK_ID,
    { name: 'max-age', value: '<duration>', description: 'the last run must have started within this long (30m, 25h, 7d)' },
    { name: 'any-exit', description: 'pass whatever the last run exited with: only its age counts' },
    DATABASE_URL,
    JSON_FLAG,
    CONNECT_TIMEOUT,
    LOG_FORMAT,
    HELP,
  ],
};

export function toCheckOptions(flags: Flags, env: Env): CheckOptions {
  const { key, lockId } = resolveTarget(flags, env);
  if (flags.maxAge === undefined) throw new UsageError('pglock check needs --max-age <duration> (such as 25h)');
  return {
    ...common(flags, env),
    key,
    lockId,
    maxAgeMs: parsePositiveDuration(String(flags.maxAge), '--max-age'),
    anyExit: flags.anyExit === true,
    json: flags.json === true,
  };
}

export const HISTORY: ProgramSpec = {
  name: 'pglock history',
  usage: 'pglock history --key <name> [options]',
  description: "The key's recorded runs, newest first: start, end, duration, host, pid, outcome, exit code, fencing token (times by the database's clock).",
  operands: [],
  flags: [
    KEY,
    LOCK_ID,
    { name: 'limit', short: 'n', value: '<n>', description: 'at most the n newest runs', default: '20' },
    DATABASE_URL,
    JSON_FLAG,
    CONNECT_TIMEOUT,
    LOG_FORMAT,
    HELP,
  ],
};

export function toHistoryOptions(flags: Flags, env: Env): HistoryOptions {
  const { key, lockId } = resolveTarget(flags, env);
  return { ...common(flags, env), key, lockId, limit: parseCount(String(flags.limit), '--limit', 1), json: flags.json === true };
}

export const RELEASE: ProgramSpec = {
  name: 'pglock release',
  usage: 'pglock release --key <name> [options]',
  description:
    "Break a stuck lock: terminate the session holding the key's lock (pg_terminate_backend). A pglock holder then stops its command and exits 70. " +
    'A holder that is not a pglock is refused (exit 65) unless --force; without the privilege (the same role, or pg_signal_backend) exit 77.',
  operands: [],
  flags: [
    KEY,
    LOCK_ID,
    { name: 'force', description: 'also terminate a holder that is not a pglock' },
    DATABASE_URL,
    { name: 'json', description: 'print what was terminated as JSON' },
    CONNECT_TIMEOUT,
    LOG_FORMAT,
    HELP,
  ],
};

export function toReleaseOptions(flags: Flags, env: Env): ReleaseOptions {
  const { key, lockId } = resolveTarget(flags, env);
  return { ...common(flags, env), key, lockId, force: flags.force === true, json: flags.json === true };
}

/** What every database subcommand shares: the connection, its timeout, the log format. */
export function common(flags: Flags, env: Env): { connection: CheckOptions['connection']; connectTimeoutMs: number; logFormat: LogFormat } {
  const logFormat = String(flags.logFormat);
  if (logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`--log-format must be text or json, got '${logFormat}'`);
  return {
    connection: resolveConnectionConfig(pickDatabaseUrl(flags.databaseUrl as string | undefined, env), env),
    connectTimeoutMs: parseDuration(String(flags.connectTimeout), '--connect-timeout'),
    logFormat,
  };
}

/** --key or --lock-id (PGLOCK_KEY when neither is given). */
export function resolveTarget(flags: Flags, env: Env): { key: string | undefined; lockId: bigint } {
  const givenKey = flags.key as string | undefined;
  if (givenKey !== undefined && flags.lockId !== undefined) throw new UsageError('give --key or --lock-id, not both');
  if (flags.lockId !== undefined) return { key: undefined, lockId: parseLockId(String(flags.lockId)) };
  const key = givenKey ?? env.PGLOCK_KEY;
  if (key === undefined) throw new UsageError('a lock key is required: --key <name> (or PGLOCK_KEY), or --lock-id <int64>');
  if (key === '') throw new UsageError('the lock key must not be empty');
  return { key, lockId: lockIdForKey(key) };
}
