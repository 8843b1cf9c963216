// pglock's statements carry integers that pglock computed itself (the lock id hashed from the
// key, timeouts, a backend pid) as literals, after the check below, and text it stores (a key, a
// host name) only hex-encoded (textLiteral): never a character a user typed. They are sent with the
// simple query protocol: postgres.js describes any statement with bind parameters in an extra round
// trip before running it, which would double the cost of every lock statement.

/**
 * The decimal literal of an integer, or a TypeError for anything that is not one. Negative values
 * come in parentheses: `-9223372036854775808::bigint` means -(9223372036854775808::bigint), which
 * is out of range, while `(-9223372036854775808)::bigint` is the smallest bigint.
 */
export function intLiteral(value: bigint | number): string {
  if (typeof value === 'number' ? !Number.isSafeInteger(value) : BigInt.asIntN(64, value) !== value) {
    throw new TypeError(`not a 64-bit integer: ${String(value)}`);
  }
  return value < 0 ? `(${value})` : String(value);
}

/**
 * A text value pglock stores (a key, a host name) as a SQL expression that carries only hex
 * digits: the server decodes the bytes, so the statement text never holds a character the user
 * typed and cannot be broken out of. NUL, which PostgreSQL text cannot hold, becomes U+FFFD.
 */
export function textLiteral(value: string): string {
  const hex = Buffer.from(value.replace(/\0/g, '\uFFFD'), 'utf8').toString('hex');
  return `pg_catalog.convert_from(pg_catalog.decode('${hex}', 'hex'), 'UTF8')`;
}
