import type { SessionToken } from '../connection/index.js';

// A lock session's token (takeover/objects.ts): the proof, to the next holder of a lock, that the
// session which keeps its holder row armed between sections still lives. Its backend holds the token
// as an exclusive two-key advisory lock (pg_locks: objsubid 2) from the session setup until it ends,
// and the row keeps the same token as one int8: a shared try of it (xact-level, one lookup in the
// lock table, no scan of it) fails exactly while that session lives. The first key is the same for
// every token (pglock's namespace, so `pglock status` can leave tokens out); the second is random:
// two sessions draw the same token by a 1 in 2^32 chance, and the second then keeps no armed rows
// (its setup could not take it). Math.random, not node:crypto: a token is no secret, only unlikely
// to repeat, and the CLI loads crypto only when it needs it.

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
