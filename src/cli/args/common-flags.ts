import type { FlagSpec } from './scan-args.js';

// The flags every subcommand that talks to the database shares, written once.
export const HELP: FlagSpec = { name: 'help', short: 'h', description: 'show this help', action: 'help' };
export const LOG_FORMAT: FlagSpec = { name: 'log-format', value: '<format>', description: 'text, or json: one JSON object per stderr line', default: 'text', choices: ['text', 'json'] };
export const CONNECT_TIMEOUT: FlagSpec = {
  name: 'connect-timeout',
  value: '<duration>',
  description: 'keep trying to connect, with backoff, for this long',
  default: '10s',
};
export const DATABASE_URL: FlagSpec = {
  name: 'database-url',
  short: 'd',
  value: '<conninfo>',
  description: 'connection string: a URL or keyword=value pairs (else PGLOCK_DATABASE_URL, DATABASE_URL, then as psql; see docs/connecting.md)',
};
export const KEY: FlagSpec = { name: 'key', short: 'k', value: '<name>', description: 'the lock key (env PGLOCK_KEY)' };
export const LOCK_ID: FlagSpec = { name: 'lock-id', value: '<int64>', description: 'a raw 64-bit advisory lock id instead of a key' };
export const JSON_FLAG: FlagSpec = { name: 'json', description: 'print JSON instead of text' };
