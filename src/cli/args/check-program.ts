import type { Env } from '../../connection/index.js';
import { UsageError } from '../../errors.js';
import { CONNECT_TIMEOUT, DATABASE_URL, HELP, JSON_FLAG, KEY, LOCK_ID, LOG_FORMAT } from './common-flags.js';
import { resolveTarget, toCommonOptions } from './common-options.js';
import type { ParsedFlags, ProgramSpec } from './flag-spec.js';
import type { CheckOptions } from './options.js';
import { parsePositiveDuration } from './parse-values.js';

// `pglock check --key K --max-age <duration>`: its table, and the CheckOptions it makes.
// parse-args.ts dispatches to it by the first argument.

export const CHECK = {
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
} as const satisfies ProgramSpec;

export function toCheckOptions(flags: ParsedFlags<typeof CHECK>, env: Env): CheckOptions {
  const { key, lockId } = resolveTarget(flags, env);
  if (flags.maxAge === undefined) throw new UsageError('pglock check needs --max-age <duration> (such as 25h)');
  return {
    ...toCommonOptions(flags, env),
    key,
    lockId,
    maxAgeMs: parsePositiveDuration(flags.maxAge, '--max-age'),
    anyExit: flags.anyExit === true,
    json: flags.json === true,
  };
}
