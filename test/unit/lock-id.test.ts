import t from 'tap';
import { lockIdForKey, lockIdHalves, lockIdSql, parseLockId } from '../../src/lock-id.js';
import { UsageError } from '../../src/errors.js';

t.test('key → id is the first 8 bytes of SHA-256, signed big-endian', async (t) => {
  t.equal(lockIdForKey('gold_leader'), 1164266746182509168n, 'the documented example');
  t.equal(lockIdForKey('gold_leader'), lockIdForKey('gold_leader'), 'stable');
  t.not(lockIdForKey('gold_leader'), lockIdForKey('gold_leader '), 'every byte counts');
  const negative = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map(lockIdForKey).some((id) => id < 0n);
  t.ok(negative, 'ids span the signed range (some keys hash negative)');
  t.equal(lockIdForKey('ключ ✓'), lockIdForKey('ключ ✓'.normalize('NFC')), 'UTF-8 keys hash by their bytes');
  t.throws(() => lockIdForKey(''), UsageError);
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
  const { intLiteral } = await import('../../src/sql-int.js');
  t.equal(intLiteral(42n), '42');
  t.equal(intLiteral(-9223372036854775808n), '(-9223372036854775808)', 'INT64_MIN casts to bigint only in parentheses');
  t.equal(intLiteral(0), '0');
  t.throws(() => intLiteral(1.5), TypeError);
  t.throws(() => intLiteral(2n ** 63n), TypeError);
});
