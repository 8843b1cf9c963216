// What a key may be and how messages show it (issue 28): no NUL (PostgreSQL text cannot hold one),
// at most 64 KiB of UTF-8 (the command gets it whole in PGLOCK_KEY), the same UsageError from
// every entry point that hashes a key; control characters escaped and long keys cut in every
// label, and the SQL for a key with control characters on one line.
import t from 'tap';
import { UsageError } from '../../src/errors.js';
import { MAX_KEY_BYTES, checkKey } from '../../src/key/check-key.js';
import { displayKey, escapeControls } from '../../src/key/display-key.js';
import { lockIdForKey, lockIdSql } from '../../src/key/lock-id.js';
import { labelOf, resolveLockTarget } from '../../src/key/target.js';

const thrown = (fn: () => unknown): unknown => { try { fn(); return undefined; } catch (error) { return error; } };

t.test('a key with NUL is a UsageError wherever a key is hashed or written as SQL', async (t) => {
  for (const [what, fn] of [
    ['lockIdForKey', () => lockIdForKey('a\0b')],
    ['lockIdSql', () => lockIdSql('a\0b')],
    ['resolveLockTarget', () => resolveLockTarget({ key: 'a\0b' })],
  ] as const) {
    const error = thrown(fn);
    t.ok(error instanceof UsageError, what);
    t.equal((error as Error).message, "the lock key must not contain a NUL character (PostgreSQL text cannot hold one), got 'a\\x00b'", what);
  }
});

t.test('at most 64 KiB of UTF-8: the limit itself is fine, one byte more is a UsageError', async (t) => {
  t.equal(MAX_KEY_BYTES, 65_536);
  t.doesNotThrow(() => checkKey('k'.repeat(MAX_KEY_BYTES)));
  t.doesNotThrow(() => lockIdForKey('é'.repeat(MAX_KEY_BYTES / 2)), 'counted in bytes: 2 each');
  for (const key of ['k'.repeat(MAX_KEY_BYTES + 1), 'é'.repeat(MAX_KEY_BYTES / 2) + 'k', 'k'.repeat(131_071), 'k'.repeat(1 << 20)]) {
    const error = thrown(() => resolveLockTarget({ key }));
    t.ok(error instanceof UsageError);
    t.match((error as Error).message, new RegExp(`^the lock key is ${Buffer.byteLength(key)} bytes long; at most 65536 bytes of UTF-8 are allowed, got '(k|é){64}…'$`));
  }
  t.ok(thrown(() => checkKey('')) instanceof UsageError, 'empty, as before');
});

t.test('labels: control characters escaped, a long key cut to a prefix, then its length and the id', async (t) => {
  const id = lockIdForKey('a\nb');
  t.equal(labelOf(id, 'a\nb'), `'a\\nb' (id ${id})`);
  t.equal(labelOf(1n, 'tab\there\r\x1b[31m\x7f\u0085\u2028\u202e'), "'tab\\there\\r\\x1b[31m\\x7f\\x85\\u2028\\u202e' (id 1)");
  t.equal(labelOf(1n, 'ключ 🔒', 2), "'ключ 🔒' (id 1, slot 2)", 'printable text as it is');
  t.equal(labelOf(1n, 'k'.repeat(80)), `'${'k'.repeat(80)}' (id 1)`, '80 characters: whole');
  t.equal(labelOf(1n, 'k'.repeat(81)), `'${'k'.repeat(64)}…' (a key of 81 bytes, id 1)`);
  t.equal(labelOf(7n, '🔒'.repeat(65_536 / 4), 0), `'${'🔒'.repeat(64)}…' (a key of 65536 bytes, id 7, slot 0)`, 'cut between characters, not inside one');
  t.equal(resolveLockTarget({ key: 'x'.repeat(65_536) }).label.length, `'${'x'.repeat(64)}…' (a key of 65536 bytes, id ${lockIdForKey('x'.repeat(65_536))})`.length);
  t.equal(displayKey('a\nb'), 'a\\nb');
  t.equal(escapeControls('plain'), 'plain');
});

t.test('lockIdSql: a plain literal, or an E literal on one line when the key holds control characters', async (t) => {
  t.match(lockIdSql("it's"), "convert_to('it''s', 'UTF8')");
  t.match(lockIdSql('back\\slash'), "convert_to('back\\slash', 'UTF8')", 'no escapes needed: a plain literal, backslash as it is');
  t.match(lockIdSql("a\nb'\\c\u0085\u2028"), "convert_to(E'a\\x0ab''\\\\c\\u0085\\u2028', 'UTF8')");
  t.notMatch(lockIdSql('a\nb\rc'), /[\n\r]/, 'one line');
});
