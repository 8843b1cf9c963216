// pglock's statements carry only integers that pglock computed itself (the lock id hashed from
// the key, timeouts, a backend pid): never the key or any other text a user typed. They are
// written into the statement as literals, after this check, and sent with the simple query
// protocol: postgres.js describes any statement with bind parameters in an extra round trip
// before running it, which would double the cost of every lock statement.

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
