import type { SessionToken } from '../connection/index.js';

// A lock session's token (takeover/objects.ts): the proof, to the next holder of a lock, that the
// session which keeps its holder row armed between sections still lives. Its backend holds the token
// as a shared two-key advisory lock (pg_locks: objsubid 2) from the session setup until it ends;
// the row keeps the same token as one int8. The first key is the same for every token (pglock's
// namespace, so `pglock status` can leave tokens out); the second is random: a later backend with
// the same pid (reused, or on a promoted standby) holds the token only by a 1 in 2^32 chance, and
// only a pglock lock session's backend takes one at all. Math.random, not node:crypto: a token is
// no secret, only unlikely to repeat, and the CLI loads crypto only when it needs it.

/** The first key of every token: the high half of the lock id of 'pglock:session-token' (tested). */
export const TOKEN_KEY1 = -1910704984;

/** A new token for a lock session's connection. */
export function newSessionToken(): SessionToken {
  const key2 = Math.floor(Math.random() * 2 ** 32) - 2 ** 31;
  const id = BigInt.asIntN(64, (BigInt.asUintN(32, BigInt(TOKEN_KEY1)) << 32n) | BigInt.asUintN(32, BigInt(key2)));
  return { id, key1: TOKEN_KEY1, key2 };
}

/** pg_locks' classid of a token (the first key as an oid). */
export const TOKEN_CLASSID = BigInt.asUintN(32, BigInt(TOKEN_KEY1));
