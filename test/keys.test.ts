// Keys a new user may try (issue 28): a key with NUL is refused by every entry point before it
// connects; a key with control characters hashes the same in pglock and in the SQL pglock prints,
// which the server accepts; a long key works up to the limit and is shown as a prefix in messages.
import postgres from 'postgres';
import t from 'tap';
import { UsageError, acquireLock, elect, lockIdForKey, lockIdSql, openLockSession, withTransactionLock } from '../src/index.js';
import { escapeControls } from '../src/key/display-key.js';
import { startTestServer, uniqueKey } from './helpers/server.js';

const server = await startTestServer(t);
const url = server.url;
const nowhere = 'postgres://nobody@127.0.0.1:1/none';

t.test('a key with NUL: a UsageError from every entry point, before connecting', async (t) => {
  const key = 'a\0b';
  const rejection = async (promise: () => Promise<unknown> | unknown) => {
    try {
      await promise();
      return undefined;
    } catch (error) {
      return error;
    }
  };
  t.ok(await rejection(() => acquireLock({ url: nowhere, key, connectTimeoutMs: 60_000 })) instanceof UsageError, 'acquireLock');
  const session = await openLockSession({ url });
  t.teardown(() => session.close());
  t.ok(await rejection(() => session.acquire({ key })) instanceof UsageError, 'a lock session');
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  t.teardown(() => sql.end({ timeout: 1 }));
  t.ok(await rejection(() => withTransactionLock(sql, { key }, () => 'ran')) instanceof UsageError, 'withTransactionLock');
  t.ok(await rejection(() => elect({ url: nowhere, key, onLeading: () => undefined })) instanceof UsageError, 'elect');
});

t.test('keys with control characters: lockIdSql is accepted by the server and yields lockIdForKey', async (t) => {
  for (const key of ['a\nb', "tab\tquote'back\\slash", 'esc\x1b[31m', 'c1\u0085 ls\u2028 ключ', '\r\n']) {
    const name = escapeControls(key); // a raw U+0085 would break tap's own output lines
    const expression = lockIdSql(key);
    t.notMatch(expression, /[\n\r\u0085\u2028]/, `${name}: one line`);
    const [row] = await server.admin.unsafe<{ id: string }[]>(`select (${expression})::text as id`);
    t.equal(row?.id, String(lockIdForKey(key)), name);
  }
});

t.test('a 64 KiB key works, held whole; describe() and messages show a prefix and the id', async (t) => {
  const key = `${uniqueKey('long')}-${'k'.repeat(65_536)}`.slice(0, 65_536);
  const lock = await acquireLock({ url, key });
  t.teardown(() => lock.release());
  t.equal(lock.key, key, 'the key, whole');
  t.equal(lock.describe(), `'${key.slice(0, 64)}…' (a key of 65536 bytes, id ${lockIdForKey(key)})`);
  const busy = await acquireLock({ url, key }).then(() => undefined, (error: Error) => error);
  t.ok(busy && busy.message.length < 400, `a busy message of ${busy?.message.length} characters`);
  t.match(busy?.message, `the lock '${key.slice(0, 64)}…' (a key of 65536 bytes, id ${lockIdForKey(key)}) is held by`);
});
