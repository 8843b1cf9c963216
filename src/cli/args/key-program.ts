import { UsageError } from '../../errors.js';
import { HELP } from './common-flags.js';
import type { ParsedFlags, ProgramSpec } from './flag-spec.js';
import type { KeyOptions } from './options.js';
import { parseLimit } from './parse-values.js';

// `pglock key <name>`: its table, and the KeyOptions it makes.

export const KEY_PROGRAM = {
  name: 'pglock key',
  usage: 'pglock key [options] <name>',
  description: 'Print the advisory lock id of a key, and the SQL that takes the same lock (waiting or failing fast) and releases it.',
  summary: 'print the lock id of a key and the SQL that takes (waiting or failing fast) and releases the same lock',
  operands: [{ name: 'name', description: 'the lock key' }],
  flags: [
    { name: 'limit', short: 'n', value: '<n>', description: 'also print the slot ids that --limit n uses' },
    { name: 'json', description: 'print JSON' },
    HELP,
  ],
} as const satisfies ProgramSpec;

export function toKeyOptions(flags: ParsedFlags<typeof KEY_PROGRAM>, positional: string[]): KeyOptions {
  const [key] = positional; // the scan refuses a second one
  if (key === undefined || key === '') throw new UsageError('the lock key must not be empty');
  return { key, limit: flags.limit === undefined ? undefined : parseLimit(flags.limit), json: flags.json === true };
}
