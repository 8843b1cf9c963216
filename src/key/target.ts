import { UsageError } from '../errors.js';
import { displayKey, isShortened } from './display-key.js';
import { lockIdForKey } from './lock-id.js';

/** A lock named once: its id, the key it came from (if any), and how messages name it. */
export interface LockTarget {
  id: bigint;
  key: string | undefined;
  /** `'<key>' (id <id>)`, or `id <id>` for a raw id. */
  label: string;
}

/** Resolve `{ key }` or `{ lockId }` into the lock's id and label: the one place a key is hashed. */
export function resolveLockTarget(options: { key?: string | undefined; lockId?: bigint | undefined }): LockTarget {
  if (options.key !== undefined && options.lockId !== undefined) throw new UsageError('give a key or a lockId, not both');
  if (options.lockId !== undefined) {
    const id = BigInt.asIntN(64, options.lockId);
    return { id, key: undefined, label: labelOf(id, undefined) };
  }
  if (options.key === undefined) throw new UsageError('a lock key (or lockId) is required');
  let known = recent.get(options.key);
  if (known === undefined) {
    const id = lockIdForKey(options.key);
    known = { id, key: options.key, label: labelOf(id, options.key) };
    if (recent.size >= RECENT_KEYS) recent.clear();
    recent.set(options.key, known);
  }
  return { ...known };
}

// The keys this process named lately, hashed and labelled once: a service takes the same few keys
// over and over (the hash and the label cost more than the rest of a warm section's own work).
const RECENT_KEYS = 1024;
const recent = new Map<string, LockTarget>();

/**
 * How messages name a lock: `'<key>' (id <id>)`, with a slot when one is held. The key with its
 * control characters escaped; a long key as its first characters and `…`, then its length and the
 * id (see key/display-key.ts).
 */
export function labelOf(id: bigint, key: string | undefined, slot?: number): string {
  const inner = `id ${id}${slot === undefined ? '' : `, slot ${slot}`}`;
  if (key === undefined) return inner;
  const length = isShortened(key) ? `a key of ${Buffer.byteLength(key, 'utf8')} bytes, ` : '';
  return `'${displayKey(key)}' (${length}${inner})`;
}
