// Keys a new user may try (issue 28): a key with NUL is refused by every entry point before it
// connects; a key with control characters hashes the same in pglock and in the SQL pglock prints,
// which the server accepts; a long key works up to the limit and is shown as a prefix in messages.
import postgres from 'postgres';
import t from 'tap';
import { UsageError, acquireLock, elect, lockIdForKey, lockIdSql, openLockSession, withTransactionLock } from '../src/index.js';
import { escapeControls } from '../src/key/display-key.js';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { runPglock, startPglock } from './helpers/run-pglock.js';

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

t.test('the CLI: a key over 64 KiB exits 64 before connecting, in one short line (it was 71, spawn E2BIG)', async (t) => {
  const started = Date.now();
  const result = await runPglock(['-d', nowhere, '--connect-timeout', '30s', '-k', 'k'.repeat(131_071), '--', 'true']);
  t.equal(result.code, 64, result.stderr.slice(0, 300));
  t.ok(Date.now() - started < 10_000, 'before connecting');
  t.equal(result.stderr, `pglock: error: the lock key is 131071 bytes long; at most 65536 bytes of UTF-8 are allowed, got '${'k'.repeat(64)}…'\n`);
  const fromEnv = await runPglock(['-d', nowhere, '--', 'true'], { env: { PGLOCK_KEY: 'k'.repeat(65_537) } });
  t.equal(fromEnv.code, 64, 'PGLOCK_KEY too');
});

t.test('the CLI: a 64 KiB key runs, the command gets it whole; -v and the busy line show a prefix', async (t) => {
  const key = `${uniqueKey('long-cli')}-${'k'.repeat(65_536)}`.slice(0, 65_536);
  const holder = startPglock(['-d', url, '-k', key, '-v', '--', 'sh', '-c', 'printf %s "$PGLOCK_KEY" | wc -c; sleep 30']);
  await holder.waitForStderr(/running sh/);
  const shown = `'${key.slice(0, 64)}…'`;
  t.match(holder.stderrSoFar(), `pglock: acquired lock ${shown} (`);
  t.ok(holder.stderrSoFar().length < 1000, `-v: ${holder.stderrSoFar().length} characters`);
  const busy = await runPglock(['-d', url, '-k', key, '--', 'true']);
  t.equal(busy.code, 75);
  t.match(busy.stderr, `the lock ${shown} (a key of 65536 bytes, id ${lockIdForKey(key)}) is held by`);
  t.ok(busy.stderr.length < 400, `busy: ${busy.stderr.length} characters`);
  holder.child.kill('SIGTERM');
  const ended = await holder.result;
  t.equal(ended.stdout.toString().trim(), '65536', 'PGLOCK_KEY whole');
});

t.test('the CLI: a key with a newline is one escaped line in -v and the busy line', async (t) => {
  const key = `${uniqueKey('nl')}\nsecond line\x1b[31m`;
  const shown = escapeControls(key);
  const holder = startPglock(['-d', url, '-k', key, '-v', '--', 'sleep', '30']);
  await holder.waitForStderr(/running sleep/);
  t.match(holder.stderrSoFar(), `pglock: acquired lock '${shown}' (`);
  const busy = await runPglock(['-d', url, '-k', key, '--', 'true']);
  t.equal(busy.code, 75);
  t.equal(busy.stderr.split('\n').length, 2, 'one line');
  t.match(busy.stderr, `the lock '${shown}' (id ${lockIdForKey(key)})`);
  const status = await runPglock(['status', '-d', url, '--key', key]);
  t.notMatch(status.stdout.toString(), /\x1b|second line\n/, 'status: escaped too');
  holder.child.kill('SIGTERM');
  await holder.result;
});
