import { UsageError } from '../errors.js';
import { checkKey } from './check-key.js';
import { sha256Words } from './sha256.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

// The key → lock id contract, stable forever: the first 8 bytes of SHA-256 of the UTF-8 key,
// read as a signed big-endian 64-bit integer. The same id in SQL:
//   ('x' || left(encode(sha256(convert_to(key, 'UTF8')), 'hex'), 16))::bit(64)::bigint
export function lockIdForKey(key: string): bigint {
  checkKey(key);
  const [high, low] = sha256Words(Buffer.from(key, 'utf8'));
  return BigInt.asIntN(64, (BigInt(high!) << 32n) | BigInt(low!));
}

/** Parse a raw advisory lock id given as decimal text; must fit a signed 64-bit integer. */
export function parseLockId(text: string): bigint {
  const trimmed = text.trim();
  if (!/^-?\d{1,20}$/.test(trimmed)) {
    throw new UsageError(`--lock-id must be a whole number between ${INT64_MIN} and ${INT64_MAX}, got '${text}'`);
  }
  const id = BigInt(trimmed);
  if (id < INT64_MIN || id > INT64_MAX) {
    throw new UsageError(`--lock-id is out of the signed 64-bit range, got '${text}'`);
  }
  return id;
}

/** The two 32-bit halves PostgreSQL shows for a bigint advisory lock in pg_locks (classid, objid). */
export function lockIdHalves(id: bigint): { classid: string; objid: string } {
  const unsigned = BigInt.asUintN(64, id);
  return { classid: String(unsigned >> 32n), objid: String(unsigned & 0xffffffffn) };
}

/**
 * The SQL expression that yields the same id as lockIdForKey, with the key as a literal: a plain
 * '…' literal, or, when the key holds control characters, an E'…' literal with them escaped, so
 * that the statement stays on one line (a key with NUL is a UsageError, as everywhere).
 */
export function lockIdSql(key: string): string {
  checkKey(key);
  return `('x' || left(encode(sha256(convert_to(${sqlLiteral(key)}, 'UTF8')), 'hex'), 16))::bit(64)::bigint`;
}

function sqlLiteral(text: string): string {
  const quoted = text.replaceAll("'", "''");
  if (!/[\p{Cc}\u2028\u2029]/u.test(text)) return `'${quoted}'`;
  const escaped = quoted.replaceAll('\\', '\\\\').replace(/[\p{Cc}\u2028\u2029]/gu, (c) => {
    const code = c.codePointAt(0)!;
    // \xHH is a byte: only ASCII may be written so; \uHHHH is the character (UTF-8 servers).
    return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return `E'${escaped}'`;
}

/** The signed 64-bit id of a bigint advisory lock from its pg_locks halves (the inverse of lockIdHalves). */
export function bigintLockId(classid: string, objid: string): bigint {
  return BigInt.asIntN(64, (BigInt(classid) << 32n) | BigInt(objid));
}

/** The most holders --limit allows: each slot is one more lock id to try. */
export const MAX_LIMIT = 1000;

/**
 * The lock ids of the n slots of a counting semaphore (--limit n): slot i is the key's id plus i,
 * wrapping around the signed 64-bit range. Slot 0 is the key's own id, so --limit 1 is the plain
 * exclusive lock.
 */
export function slotIds(id: bigint, count: number): bigint[] {
  return Array.from({ length: count }, (_, i) => BigInt.asIntN(64, id + BigInt(i)));
}
