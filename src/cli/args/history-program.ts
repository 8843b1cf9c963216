import type { Env } from '../../connection/index.js';
import { CONNECT_TIMEOUT, DATABASE_URL, HELP, JSON_FLAG, KEY, LOCK_ID, LOG_FORMAT } from './common-flags.js';
import { resolveTarget, toCommonOptions } from './common-options.js';
import type { ParsedFlags, ProgramSpec } from './flag-spec.js';
import type { HistoryOptions } from './options.js';
import { parseCount } from './parse-values.js';

// `pglock history --key K [--limit n]`: its table, and the HistoryOptions it makes.

export const HISTORY = {
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
} as const satisfies ProgramSpec;

export function toHistoryOptions(flags: ParsedFlags<typeof HISTORY>, env: Env): HistoryOptions {
  const { key, lockId } = resolveTarget(flags, env);
  return { ...toCommonOptions(flags, env), key, lockId, limit: parseCount(flags.limit, '--limit', 1), json: flags.json === true };
}
