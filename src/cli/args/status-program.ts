import type { Env } from '../../connection/index.js';
import { parseDuration } from '../../duration.js';
import { UsageError } from '../../errors.js';
import { checkOutputWritable } from '../report/write-output.js';
import { CONNECT_TIMEOUT, DATABASE_URL, HELP, LOG_FORMAT } from './common-flags.js';
import { resolveDatabaseUrl } from './common-options.js';
import type { ParsedFlags, ProgramSpec } from './flag-spec.js';
import type { StatusOptions } from './options.js';
import { parseLogFormat } from './parse-values.js';

// `pglock status [--key K] [--json | --format prometheus] [--output FILE]`: its table, and the
// StatusOptions it makes.

export const STATUS = {
  name: 'pglock status',
  usage: 'pglock status [options]',
  description: 'List the advisory locks in the database: holders and waiters, and who they are; and the last recorded run of each key. --format prometheus: the same as metrics.',
  summary: 'list advisory locks, holders, waiters and last runs; or metrics',
  operands: [],
  flags: [
    { name: 'key', short: 'k', value: '<name>', description: 'only this key (and its --limit slots)' },
    DATABASE_URL,
    { name: 'json', description: 'print JSON instead of a table (--format json)' },
    { name: 'format', value: '<format>', description: 'text, json, or prometheus (the text exposition format: last runs, holders, waiters)', default: 'text' },
    { name: 'output', short: 'o', value: '<file>', description: 'write the report to this file atomically (a temporary file, then rename), for the node_exporter textfile collector' },
    CONNECT_TIMEOUT,
    LOG_FORMAT,
    HELP,
  ],
} as const satisfies ProgramSpec;

export function toStatusOptions(flags: ParsedFlags<typeof STATUS>, env: Env): StatusOptions {
  if (flags.key === '') throw new UsageError('the lock key must not be empty');
  const format = flags.json === true && flags.format === 'text' ? 'json' : flags.format;
  if (format !== 'text' && format !== 'json' && format !== 'prometheus') throw new UsageError(`--format must be text, json or prometheus, got '${format}'`);
  if (flags.json === true && format !== 'json') throw new UsageError('give --json or --format, not both');
  if (flags.output === '') throw new UsageError('--output needs a file name');
  if (flags.output !== undefined) checkOutputWritable(flags.output);
  return {
    connection: resolveDatabaseUrl(flags.databaseUrl, env),
    key: flags.key,
    json: format === 'json',
    format,
    output: flags.output,
    connectTimeoutMs: parseDuration(flags.connectTimeout, '--connect-timeout'),
    logFormat: parseLogFormat(flags.logFormat),
  };
}
