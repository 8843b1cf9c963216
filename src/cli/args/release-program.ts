import type { Env } from '../../connection/index.js';
import { CONNECT_TIMEOUT, DATABASE_URL, HELP, KEY, LOCK_ID, LOG_FORMAT } from './common-flags.js';
import { resolveTarget, toCommonOptions } from './common-options.js';
import type { ParsedFlags, ProgramSpec } from './flag-spec.js';
import type { ReleaseOptions } from './options.js';

// `pglock release --key K [--force]`: its table, and the ReleaseOptions it makes.

export const RELEASE = {
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
} as const satisfies ProgramSpec;

export function toReleaseOptions(flags: ParsedFlags<typeof RELEASE>, env: Env): ReleaseOptions {
  const { key, lockId } = resolveTarget(flags, env);
  return { ...toCommonOptions(flags, env), key, lockId, force: flags.force === true, json: flags.json === true };
}
