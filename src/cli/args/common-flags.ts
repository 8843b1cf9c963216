import type { FlagSpec } from './flag-spec.js';

// The flags several programs share, written once. Each is `as const`, so that a table listing it
// types its value by name (see flag-spec.ts).
export const HELP = { name: 'help', short: 'h', description: 'show this help', action: 'help' } as const satisfies FlagSpec;
export const LOG_FORMATS = ['text', 'json'] as const;
export const LOG_FORMAT = {
  name: 'log-format',
  value: '<format>',
  description: 'text, or json: one JSON object per stderr line',
  default: 'text',
  choices: LOG_FORMATS,
} as const satisfies FlagSpec;
export const CONNECT_TIMEOUT = {
  name: 'connect-timeout',
  value: '<duration>',
  description: 'keep trying to connect, with backoff, for this long',
  default: '10s',
} as const satisfies FlagSpec;
export const DATABASE_URL = {
  name: 'database-url',
  short: 'd',
  value: '<conninfo>',
  description: 'connection string: a URL or keyword=value pairs (else PGLOCK_DATABASE_URL, DATABASE_URL, then as psql; see docs/connecting.md)',
} as const satisfies FlagSpec;
export const KEY = { name: 'key', short: 'k', value: '<name>', description: 'the lock key (env PGLOCK_KEY)' } as const satisfies FlagSpec;
export const LOCK_ID = { name: 'lock-id', value: '<int64>', description: 'a raw 64-bit advisory lock id instead of a key' } as const satisfies FlagSpec;
export const JSON_FLAG = { name: 'json', description: 'print JSON instead of text' } as const satisfies FlagSpec;
