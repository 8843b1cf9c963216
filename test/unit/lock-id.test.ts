import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { lockIdForKey, lockIdHalves, lockIdSql, parseLockId } from '../../src/key/lock-id.js';
import { UsageError } from '../../src/errors.js';
import { sha256Words } from '../../src/key/sha256.js';

t.test('key → id is the first 8 bytes of SHA-256, signed big-endian', async (t) => {
  t.equal(lockIdForKey('gold_leader'), 1164266746182509168n, 'the documented example');
  t.equal(lockIdForKey('gold_leader'), lockIdForKey('gold_leader'), 'stable');
  t.not(lockIdForKey('gold_leader'), lockIdForKey('gold_leader '), 'every byte counts');
  const negative = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map(lockIdForKey).some((id) => id < 0n);
  t.ok(negative, 'ids span the signed range (some keys hash negative)');
  t.equal(lockIdForKey('ключ ✓'), lockIdForKey('ключ ✓'.normalize('NFC')), 'UTF-8 keys hash by their bytes');
  t.throws(() => lockIdForKey(''), UsageError);
});

t.test('the plain-JavaScript SHA-256 matches node:crypto', async (t) => {
  const digest = (data: Uint8Array) => {
    const out = Buffer.alloc(32);
    sha256Words(data).forEach((word, i) => out.writeUInt32BE(word, i * 4));
    return out;
  };
  let mismatches = 0;
  // Every length across the padding boundaries (55/56/64 bytes, two and three blocks), random bytes.
  for (let length = 0; length <= 300; length++) {
    for (let round = 0; round < 4; round++) {
      const data = randomBytes(length);
      if (!digest(data).equals(createHash('sha256').update(data).digest())) mismatches++;
    }
  }
  t.equal(mismatches, 0, 'random inputs of 0-300 bytes');
  t.equal(digest(Buffer.from('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'FIPS 180-2 example');
  const long = randomBytes(100_000);
  t.ok(digest(long).equals(createHash('sha256').update(long).digest()), 'a long input (100 KB)');
  // Keys: the UTF-8 of any string, lone surrogates included (both encode them as U+FFFD).
  const keys = ['gold_leader', 'ключ ✓', '\ud800', 'a\udc00b', '😀'.repeat(40), ' '.repeat(64), 'x'.repeat(1000)];
  for (const key of keys) {
    t.equal(lockIdForKey(key), createHash('sha256').update(key, 'utf8').digest().readBigInt64BE(0), `key ${JSON.stringify(key.slice(0, 12))}`);
  }
});

t.test('raw lock ids', async (t) => {
  const good: [string, bigint][] = [
    ['0', 0n], ['42', 42n], ['-1', -1n],
    ['9223372036854775807', 9223372036854775807n], ['-9223372036854775808', -9223372036854775808n],
  ];
  for (const [text, id] of good) t.equal(parseLockId(text), id, text);
  for (const bad of ['', 'x', '1.5', '0x10', '9223372036854775808', '-9223372036854775809', '1e3', '123456789012345678901']) {
    t.throws(() => parseLockId(bad), UsageError, `rejects '${bad}'`);
  }
});

t.test('pg_locks halves and the SQL formula text', async (t) => {
  t.same(lockIdHalves(1164266746182509168n), { classid: '271076975', objid: '3858899568' });
  t.same(lockIdHalves(-1n), { classid: '4294967295', objid: '4294967295' });
  t.match(lockIdSql("it's"), /convert_to\('it''s', 'UTF8'\)/, 'quotes are doubled');
});

t.test('SQL integer literals: negative values in parentheses, non-integers refused', async (t) => {
  const { intLiteral } = await import('../../src/sql/literals.js');
  t.equal(intLiteral(42n), '42');
  t.equal(intLiteral(-9223372036854775808n), '(-9223372036854775808)', 'INT64_MIN casts to bigint only in parentheses');
  t.equal(intLiteral(0), '0');
  t.throws(() => intLiteral(1.5), TypeError);
  t.throws(() => intLiteral(2n ** 63n), TypeError);
});
