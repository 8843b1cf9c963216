import { UsageError } from '../errors.js';
import { displayKey } from './display-key.js';

// What a lock key may be (issue 28), checked wherever a key enters: the library (every entry point
// resolves its key through key/target.ts) and the CLI (before connecting).
//  - Not empty.
//  - No NUL: PostgreSQL text cannot hold one, so the run record could not store the key and the
//    SQL that `pglock key` prints could not name it.
//  - At most 64 KiB of UTF-8: the command gets the key whole in PGLOCK_KEY, and Linux allows one
//    environment string at most 128 KiB (MAX_ARG_STRLEN), all the other variables sharing the rest
//    of ARG_MAX with the arguments; a round limit well inside that, the same for every entry point.

export const MAX_KEY_BYTES = 65_536;

/** Throw a UsageError when `key` cannot be a lock key; the message shows it escaped and shortened. */
export function checkKey(key: string): void {
  if (key.length === 0) throw new UsageError('the lock key must not be empty');
  if (key.includes('\0')) {
    throw new UsageError(`the lock key must not contain a NUL character (PostgreSQL text cannot hold one), got '${displayKey(key)}'`);
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new UsageError(`the lock key is ${bytes} bytes long; at most ${MAX_KEY_BYTES} bytes of UTF-8 are allowed, got '${displayKey(key)}'`);
  }
}
