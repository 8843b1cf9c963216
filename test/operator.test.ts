// Shapes of lock and what operators see: --shared, --limit, --fencing-token, the holder named on
// conflict, and JSON logs. End to end: the built binary against a real server.
import { mkdtempSync, readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { FIXTURES, runPglock, startPglock } from './helpers/run-pglock.js';
import { maxConcurrency, maxOverlapMs, readSections } from './helpers/overlap.js';
import { lockRows } from './helpers/locks.js';
import { lockIdForKey, lockIdSql, slotIds } from '../src/key/lock-id.js';
import { applicationName, defaultApplicationName } from '../src/connection/application-name.js';

const server = await startTestServer(t);
const url = server.url;
const node = process.execPath;
const record = join(FIXTURES, 'record.mjs');
const tempLog = (name: string) => join(mkdtempSync(join(tmpdir(), 'pglock-operator-')), name);

t.test('--shared: shared holders run together; an exclusive one is refused, and refuses them', async (t) => {
  const key = uniqueKey('shared');
  const log = tempLog('sections.log');
  const a = startPglock(['-d', url, '-k', key, '--shared', '--', node, record, log, 'a', '3000']);
  const b = startPglock(['-d', url, '-k', key, '-s', '--', node, record, log, 'b', '3000']);
  const [ra, rb] = await Promise.all([a.result, b.result]);
  t.equal(ra.code, 0, 'first shared holder ran');
  t.equal(rb.code, 0, 'second shared holder ran');
  t.ok(maxOverlapMs(readSections(log)) > 500, 'the two shared holders ran at the same time');

  const holder = startPglock(['-d', url, '-k', key, '--shared', '-v', '--', 'sleep', '30']);
  await holder.waitForStderr(/running sleep/);
  const exclusive = await runPglock(['-d', url, '-k', key, '--', 'echo', 'must not run']);
  t.equal(exclusive.code, 75, 'an exclusive request is refused while a shared holder runs');
  t.equal(exclusive.stdout.toString(), '', 'its command did not run');
  t.match(exclusive.stderr, `pid ${holder.child.pid}`, 'the message names the shared holder');
  holder.child.kill('SIGTERM');
  await holder.result;

  const writer = startPglock(['-d', url, '-k', key, '-v', '--', 'sleep', '30']);
  await writer.waitForStderr(/running sleep/);
  const reader = await runPglock(['-d', url, '-k', key, '--shared', '--', 'echo', 'must not run']);
  t.equal(reader.code, 75, 'a shared request is refused while an exclusive holder runs');
  writer.child.kill('SIGTERM');
  await writer.result;
});

t.test('--limit 3 with 6 contenders: exactly 3 at once, never 4, and all run', async (t) => {
  const key = uniqueKey('limit');
  const log = tempLog('sections.log');
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) =>
    runPglock(['-d', url, '-k', key, '--limit', '3', '--wait', '--', node, record, log, `w${i}`, '2500'])));
  t.same(results.map((r) => r.code), Array(6).fill(0), 'every contender exited 0');
  const sections = readSections(log);
  t.equal(sections.length, 6, 'each ran once');
  t.equal(maxConcurrency(sections), 3, 'at most 3 ran at once, and 3 did');
  const id = lockIdForKey(key);
  const left = await Promise.all([id - 1n, id, id + 1n, id + 2n].map((slot) => lockRows(server.admin, slot)));
  t.equal(left.flat().length, 0, 'no slot or queue lock left behind');
});

t.test('--limit: a slot that frees is handed over promptly, also when its holder dies', async (t) => {
  const key = uniqueKey('limit-handoff');
  const holders = [0, 1].map(() => startPglock(['-d', url, '-k', key, '-n', '2', '-v', '--', 'sleep', '30']));
  await Promise.all(holders.map((h) => h.waitForStderr(/running sleep/)));
  const busy = await runPglock(['-d', url, '-k', key, '-n', '2', '--', 'true']);
  t.equal(busy.code, 75, 'a third is refused without --wait');
  t.match(busy.stderr, /all 2 slots of the lock/, 'the message says the slots are taken');
  t.match(busy.stderr, `pid ${holders[0]!.child.pid}`, 'and names a holder');
  // --lock-delay 0: the slot mechanism's own promptness; the takeover delay after a holder that died
  // is tested in takeover-chaos.test.ts.
  const waiter = startPglock(['-d', url, '-k', key, '-n', '2', '-w', '-v', '--lock-delay', '0', '--', 'echo', 'waiter ran']);
  await waiter.waitForStderr(/connecting/);
  await new Promise((resolve) => setTimeout(resolve, 500));
  // Kill the second holder outright: its backend goes away without any unlock or notice.
  holders[1]!.child.kill('SIGKILL');
  const started = Date.now();
  const result = await waiter.result;
  t.equal(result.code, 0, 'the waiter ran');
  t.equal(result.stdout.toString(), 'waiter ran\n', 'its command ran');
  t.ok(Date.now() - started < 5000, `handed over ${Date.now() - started} ms after the holder died (well under the 5 s heartbeat)`);
  holders[0]!.child.kill('SIGTERM');
  await Promise.all(holders.map((h) => h.result));
});

t.test('--fencing-token: strictly increasing over successive holders and concurrent contenders', async (t) => {
  const key = uniqueKey('fencing');
  const log = tempLog('tokens.log');
  const fenced = join(FIXTURES, 'fenced.mjs');
  for (const label of ['s1', 's2', 's3']) {
    const result = await runPglock(['-d', url, '-k', key, '--fencing-token', '--', node, fenced, log, label, '1']);
    t.equal(result.code, 0, `${label} ran`);
  }
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    runPglock(['-d', url, '-k', key, '--fencing-token', '--wait', '--', node, fenced, log, `c${i}`, '20'])));
  t.same(results.map((r) => r.code), Array(8).fill(0), 'every contender ran');
  const lines = readFileSync(log, 'utf8').trim().split('\n').map((line) => line.split(' '));
  const tokens = lines.map(([, token]) => Number(token));
  // Timeline 1 (a fresh server) × 2^32, plus a counter.
  const base = 2 ** 32;
  t.same(tokens.slice(0, 3), [base + 1, base + 2, base + 3], 'successive holders got timeline×2³² + 1, 2, 3');
  t.equal(tokens.length, 11, 'every child got a token');
  t.ok(tokens.every((token, i) => i === 0 || token > tokens[i - 1]!), `tokens grow in the order the children started: ${tokens.join(' ')}`);
  const other = await runPglock(['-d', url, '-k', uniqueKey('fencing-other'), '--fencing-token', '--', 'sh', '-c', 'echo $PGLOCK_FENCING_TOKEN']);
  t.equal(other.stdout.toString(), `${base + 1}\n`, 'another key counts on its own');
  const plain = await runPglock(['-d', url, '-k', key, '--', 'sh', '-c', 'echo "[$PGLOCK_FENCING_TOKEN]"']);
  t.equal(plain.stdout.toString(), '[]\n', 'without the flag the child gets no token');
});

t.test('the conflict and timeout messages name the holder', async (t) => {
  const key = uniqueKey('named');
  const holder = startPglock(['-d', url, '-k', key, '-v', '--', 'sleep', '30']);
  await holder.waitForStderr(/running sleep/);
  const busy = await runPglock(['-d', url, '-k', key, '--', 'true']);
  t.equal(busy.code, 75);
  t.match(busy.stderr, `held by pglock on ${hostname()} (pid ${holder.child.pid})`, 'busy: host and pid of the holding pglock');
  const timedOut = await runPglock(['-d', url, '-k', key, '--timeout', '300ms', '--', 'true']);
  t.equal(timedOut.code, 75);
  t.match(timedOut.stderr, /timed out after 300ms/);
  t.match(timedOut.stderr, `pglock on ${hostname()} (pid ${holder.child.pid})`, 'timeout: the holder too');

  const plain = await server.admin.reserve();
  const other = uniqueKey('named-psql');
  await plain`select pg_advisory_lock(('x' || left(encode(sha256(convert_to(${other}, 'UTF8')), 'hex'), 16))::bit(64)::bigint)`;
  const [row] = await plain<{ pid: number }[]>`select pg_backend_pid() as pid`;
  const pid = row?.pid;
  const busyOther = await runPglock(['-d', url, '-k', other, '--', 'true']);
  t.match(busyOther.stderr, `backend ${pid}`, 'a holder that is not pglock is named by its backend pid');
  plain.release();
  await server.admin`select pg_advisory_unlock_all()`;
  holder.child.kill('SIGTERM');
  await holder.result;
});

t.test('the extreme lock ids work (INT64_MIN is a literal that needs parentheses in SQL)', async (t) => {
  for (const id of ['-9223372036854775808', '9223372036854775807']) {
    const once = await runPglock(['-d', url, '--lock-id', id, '--', 'echo', 'ran']);
    t.equal(once.code, 0, `--lock-id ${id}`);
    t.equal(once.stdout.toString(), 'ran\n');
    const waited = await runPglock(['-d', url, '--lock-id', id, '-w', '-n', '2', '--fencing-token', '--', 'echo', 'ran']);
    t.equal(waited.code, 0, `--lock-id ${id} --wait --limit 2 --fencing-token: ${waited.stderr}`);
  }
});

t.test('application_name: the key is cut to fit 63 bytes, the host and pid never', async (t) => {
  t.equal(defaultApplicationName('gold_leader', 'web-1', 4242), 'pglock:gold_leader@web-1:4242');
  const long = defaultApplicationName('k'.repeat(100), 'web-1', 4242);
  t.equal(long.length, 63);
  t.ok(long.endsWith('@web-1:4242'), long);
  const hugeHost = defaultApplicationName('key', 'h'.repeat(80), 4194304);
  t.ok(hugeHost.length <= 63 && hugeHost.endsWith(':4194304') && hugeHost.startsWith('pglock:k@'), hugeHost);
  t.equal(defaultApplicationName('ключ', 'web-1', 1), 'pglock:????@web-1:1', 'non-ASCII becomes ?');
  const status = applicationName('pglock-status', 'h'.repeat(80), 4194304);
  t.ok(status.length <= 63 && status.startsWith('pglock-s') && status.endsWith(':4194304'), `the status session too: ${status}`);
});

t.test('--log-format json: every stderr line is one JSON object', async (t) => {
  const key = uniqueKey('json');
  const holder = startPglock(['-d', url, '-k', key, '-v', '--log-format', 'json', '--fencing-token', '--', 'sleep', '30']);
  await holder.waitForStderr(/running sleep/);
  const busy = await runPglock(['-d', url, '-k', key, '--log-format', 'json', '--', 'true']);
  const usage = await runPglock(['--log-format', 'json', '-k', key, '--timeout', 'soon', '--', 'true']);
  holder.child.kill('SIGTERM');
  const held = await holder.result;
  t.equal(usage.code, 64, 'a usage error still exits 64');
  const lines = [held.stderr, busy.stderr, usage.stderr].flatMap((text) => text.trim().split('\n'));
  t.ok(lines.length >= 5, `${lines.length} lines`);
  const records = lines.map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      t.fail(`not JSON: ${line}`);
      return {};
    }
  });
  for (const record of records) {
    t.ok(typeof record.time === 'string' && !Number.isNaN(Date.parse(record.time)), 'time');
    t.ok(['error', 'warn', 'notice', 'info'].includes(record.level as string), 'level');
    t.type(record.message, 'string', 'message');
  }
  const conflict = records.find((r) => r.code === 'ELOCKED');
  t.equal(conflict?.key, key, 'the conflict line carries the key');
  t.type(conflict?.lockId, 'string', 'and the lock id');
  t.match(conflict?.holders, `pid ${holder.child.pid}`, 'and the holder');
  t.equal(conflict?.exitCode, 75, 'and the exit code');
  const acquired = records.find((r) => typeof r.fencingToken === 'string');
  t.ok(acquired, 'the acquired line carries the fencing token');
});

t.test('pglock key: the id equals the SQL formula on the server, and the printed SQL takes the same lock', async (t) => {
  for (const key of ['gold_leader', "it's ключ @ host:1", uniqueKey('key')]) {
    const json = await runPglock(['key', key, '--limit', '3', '--json']);
    t.equal(json.code, 0);
    const printed = JSON.parse(json.stdout.toString()) as { key: string; lockId: string; sql: string; slots: string[] };
    const [row] = await server.admin.unsafe<{ id: string }[]>(`select (${lockIdSql(key)})::text as id`);
    t.equal(printed.lockId, row?.id, `${key}: id as the server computes it`);
    t.same(printed.slots, slotIds(BigInt(printed.lockId), 3).map(String), 'slots are id + i');

    const text = await runPglock(['key', key]);
    t.equal(text.code, 0);
    t.match(text.stdout.toString(), `lock id   ${printed.lockId}\n`);
    const statement = text.stdout.toString().split('\n').find((line) => line.startsWith('select pg_advisory_lock(('));
    t.ok(statement, 'the SQL line is printed');
    const session = await server.admin.reserve();
    await session.unsafe(statement!);
    const busy = await runPglock(['-d', url, '-k', key, '--', 'true']);
    t.equal(busy.code, 75, 'the lock taken with the printed SQL is the one pglock takes');
    const tryLine = text.stdout.toString().split('\n').find((line) => line.startsWith('select pg_try_advisory_lock(('));
    const [tried] = await server.admin.unsafe<{ pg_try_advisory_lock: boolean }[]>(tryLine!);
    t.equal(tried?.pg_try_advisory_lock, false, 'the printed fail-fast form is refused while it is held');
    await session.unsafe(`select pg_advisory_unlock(${printed.lockId})`);
    const byNumber = text.stdout.toString().split('\n').find((line) => line.startsWith('select pg_catalog.pg_advisory_lock('));
    await session.unsafe(byNumber!);
    t.equal((await runPglock(['-d', url, '-k', key, '--', 'true'])).code, 75, 'so does the by-number line');
    await session.unsafe('select pg_advisory_unlock_all()');
    session.release();
  }
});

t.test('--fencing-token for a role that may not create or write the token table: exit 69, the SQL to run, command not run', async (t) => {
  // Earlier tests created the table as the superuser; a fresh role has no rights on it (or, in a
  // fresh database, on the schema).
  const role = `fencing_reader_${process.pid}`;
  await server.admin.unsafe(`create role ${role} login password 'reader-pw'`);
  t.teardown(() => server.admin.unsafe(`drop role if exists ${role}`));
  const target = `postgres://${role}:reader-pw@${server.host}:${server.port}/${server.database}`;
  const result = await runPglock(['-d', target, '-k', uniqueKey('fencing-denied'), '--fencing-token', '--', 'echo', 'must not run']);
  t.equal(result.code, 69);
  t.equal(result.stdout.toString(), '', 'the command did not run');
  t.match(result.stderr, /a fencing token needs the table public\.pglock_runs/);
  t.match(result.stderr, /create table if not exists public\.pglock_runs/);
  t.notMatch(result.stderr, /reader-pw/, 'no password in the message');
  t.equal(result.stderr.trim().split('\n').length, 1, 'one line');
});
