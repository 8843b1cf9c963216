// End-to-end: the built bin/pglock.cjs against a real server, with real child processes.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import postgres from 'postgres';
import { lockIdForKey, lockIdSql } from '../src/key/lock-id.js';
import { startTestServer, uniqueKey, freePort } from './helpers/server.js';
import { FIXTURES, eventually, runPglock, startPglock } from './helpers/run-pglock.js';
import { isGranted, lockRows } from './helpers/locks.js';

const server = await startTestServer(t);
const url = server.url;
const dir = mkdtempSync(join(tmpdir(), 'pglock-cli-'));
const node = process.execPath;

/** Hold a key from another pglock process until `release()`; resolves once it holds it. */
async function holdWithPglock(key: string) {
  const holder = startPglock(['-d', url, '-k', key, '-v', '--', node, '-e', 'setInterval(() => {}, 1000)']);
  await holder.waitForStderr(/running/);
  return { holder, release: async () => { holder.child.kill('SIGTERM'); return holder.result; } };
}

t.test('exit codes: the child\'s own code is passed through', async (t) => {
  for (const code of [0, 1, 3, 42, 255]) {
    const result = await runPglock(['-d', url, '-k', uniqueKey('code'), '--', node, '-e', `process.exit(${code})`]);
    t.equal(result.code, code, `child exit ${code}`);
    t.equal(result.stderr, '', 'nothing on stderr by default');
  }
});

t.test('exit codes: 128+N when the child is killed by signal N', async (t) => {
  for (const [signal, code] of [['SIGTERM', 143], ['SIGKILL', 137], ['SIGUSR1', 138]] as const) {
    const result = await runPglock(['-d', url, '-k', uniqueKey('sig'), '-c', `kill -${signal.slice(3)} $$`]);
    t.equal(result.code, code, signal);
  }
});

t.test('exit codes: 127 command not found, 126 not executable', async (t) => {
  const missing = await runPglock(['-d', 'postgres://nobody@127.0.0.1:1/x', '-k', uniqueKey('nf'), '--', 'pglock-no-such-command']);
  t.equal(missing.code, 127, 'found out before connecting (the URL is unreachable)');
  t.equal(missing.stderr, "pglock: error: cannot run 'pglock-no-such-command': command not found\n");
  const plainFile = join(dir, 'not-executable');
  writeFileSync(plainFile, 'echo hi\n', { mode: 0o644 });
  const notExec = await runPglock(['-d', url, '-k', uniqueKey('nx'), '--', plainFile]);
  t.equal(notExec.code, 126);
  t.match(notExec.stderr, /permission denied/);
  t.equal((await runPglock(['-d', url, '-k', uniqueKey('sh127'), '-c', 'pglock-no-such-command'])).code, 127, 'the shell says 127 too');
});

t.test('fail fast (default): exit 75, the child never runs, the holder is named as busy', async (t) => {
  const key = uniqueKey('fast');
  const { release } = await holdWithPglock(key);
  const started = Date.now();
  const result = await runPglock(['-d', url, '-k', key, '--', node, '-e', 'console.log("ran")']);
  t.equal(result.code, 75);
  t.equal(result.stdout.length, 0, 'the child did not run');
  t.match(result.stderr, /^pglock: the lock '.*' \(id -?\d+\) is held by pglock on .+ \(pid \d+\), held for [\d.]+m?s; not running the command\n$/);
  t.ok(Date.now() - started < 5000, 'did not wait');
  const quiet = await runPglock(['-d', url, '-k', key, '-q', '--', 'true']);
  t.equal(quiet.code, 75);
  t.equal(quiet.stderr, '', '-q silences the conflict message');
  const custom = await runPglock(['-d', url, '-k', key, '-E', '3', '--', 'true']);
  t.equal(custom.code, 3, '-E sets the conflict code');
  const zero = await runPglock(['-d', url, '-k', key, '-E', '0', '--', 'true']);
  t.equal(zero.code, 0, '-E 0: "skipped" counts as success for cron');
  await release();
});

t.test('--wait runs the child after the holder finishes; --timeout gives up with 75', async (t) => {
  const key = uniqueKey('wait');
  const log = join(dir, `wait-${key.slice(-6)}.log`);
  // The holder holds until the test opens its gate: no race with a slow machine.
  const gate = join(dir, `gate-${key.slice(-6)}`);
  const holder = startPglock(['-d', url, '-k', key, '-v', '--', 'sh', '-c',
    `echo "start holder" >> '${log}'; while [ ! -e '${gate}' ]; do sleep 0.02; done; echo "end holder" >> '${log}'`]);
  await holder.waitForStderr(/running/);
  const timedOut = await runPglock(['-d', url, '-k', key, '-t', '300ms', '--', node, join(FIXTURES, 'record.mjs'), log, 'timeout', '0']);
  t.equal(timedOut.code, 75);
  t.match(timedOut.stderr, /timed out after 300ms waiting for the lock/);
  const waiter = startPglock(['-d', url, '-k', key, '--wait', '--', node, join(FIXTURES, 'record.mjs'), log, 'waiter', '0']);
  await eventually(async () => (await lockRows(server.admin, lockIdForKey(key))).some((row) => !row.granted), 20_000, 'the waiter to queue');
  writeFileSync(gate, '');
  t.equal((await waiter.result).code, 0);
  t.equal((await holder.result).code, 0);
  const events = readFileSync(log, 'utf8').trim().split('\n').map((line) => line.split(' ').slice(0, 2).join(' '));
  t.same(events, ['start holder', 'end holder', 'start waiter', 'end waiter'], 'the waiter ran only after the holder ended; the timed-out one never ran');
  const generous = await runPglock(['-d', url, '-k', key, '-t', '5s', '--', 'true']);
  t.equal(generous.code, 0, 'a timeout that is not reached just runs');
});

t.test('--lock-id: the raw id, interoperable with plain SQL in both directions', async (t) => {
  const id = BigInt(`0x${randomBytes(7).toString('hex')}`);
  const sqlHolder = postgres(url, { max: 1, onnotice: () => {} });
  t.teardown(() => sqlHolder.end({ timeout: 1 }));
  const reserved = await sqlHolder.reserve();
  await reserved`select pg_advisory_lock(${String(id)}::bigint)`;
  t.equal((await runPglock(['-d', url, '--lock-id', String(id), '--', 'true'])).code, 75, 'SQL holder → pglock busy');
  await reserved`select pg_advisory_unlock(${String(id)}::bigint)`;
  const running = startPglock(['-d', url, '--lock-id', String(id), '-v', '--', node, '-e', 'setInterval(() => {}, 1000)']);
  await running.waitForStderr(/running/);
  const [row] = await reserved`select pg_try_advisory_lock(${String(id)}::bigint) as got`;
  t.equal(row?.got, false, 'pglock holder → SQL try fails');
  running.child.kill('SIGTERM');
  await running.result;
  reserved.release();
});

t.test('--key: the SQL formula gives the same id, both directions', async (t) => {
  const key = uniqueKey('formula ✓');
  const [computed] = await server.admin.unsafe(`select ${lockIdSql(key)}::text as id`);
  t.equal(computed?.id, String(lockIdForKey(key)), 'SQL formula = pglock key hash');
  const [gold] = await server.admin.unsafe(`select ${lockIdSql('gold_leader')}::text as id`);
  t.equal(gold?.id, '1164266746182509168');
  const sqlHolder = postgres(url, { max: 1, onnotice: () => {} });
  t.teardown(() => sqlHolder.end({ timeout: 1 }));
  const reserved = await sqlHolder.reserve();
  await reserved.unsafe(`select pg_advisory_lock(${lockIdSql(key)})`);
  t.equal((await runPglock(['-d', url, '-k', key, '--', 'true'])).code, 75, 'locked by the SQL formula → pglock busy');
  await reserved.unsafe(`select pg_advisory_unlock(${lockIdSql(key)})`);
  const running = startPglock(['-d', url, '-k', key, '-v', '--', node, '-e', 'setInterval(() => {}, 1000)']);
  await running.waitForStderr(/running/);
  const [row] = await reserved.unsafe(`select pg_try_advisory_lock(${lockIdSql(key)}) as got`);
  t.equal(row?.got, false, 'pglock holds it → the SQL formula is busy');
  running.child.kill('SIGTERM');
  await running.result;
  reserved.release();
});

t.test('-c runs a shell line; without -c no shell is involved', async (t) => {
  const shell = await runPglock(['-d', url, '-k', uniqueKey('c'), '-c', 'echo "$PGLOCK_KEY" | tr a-z A-Z; exit 4']);
  t.equal(shell.code, 4);
  t.match(shell.stdout.toString(), /^TEST:C:/);
  const literal = await runPglock(['-d', url, '-k', uniqueKey('argv'), '--', 'echo', '$HOME', '*', '|', 'x']);
  t.equal(literal.stdout.toString(), '$HOME * | x\n', 'arguments are passed verbatim');
});

t.test('stdin and stdout pass through byte-exact; PGLOCK_KEY and PGLOCK_LOCK_ID are set', async (t) => {
  const payload = randomBytes(512 * 1024);
  const cat = await runPglock(['-d', url, '-k', uniqueKey('cat'), '-v', '--', 'cat'], { input: payload });
  t.equal(cat.code, 0);
  t.ok(cat.stdout.equals(payload), 'stdout is exactly the child\'s bytes, even with --verbose');
  t.match(cat.stderr, /acquired lock/, 'pglock\'s own messages went to stderr');
  const key = uniqueKey('env');
  const env = await runPglock(['-d', url, '-k', key, '--', node, '-e', 'console.log(process.env.PGLOCK_KEY, process.env.PGLOCK_LOCK_ID)']);
  t.equal(env.stdout.toString(), `${key} ${lockIdForKey(key)}\n`);
});

t.test('signals: SIGTERM is forwarded and the lock stays held while the child cleans up', async (t) => {
  const key = uniqueKey('term');
  const id = lockIdForKey(key);
  const log = join(dir, `term-${key.slice(-6)}.log`);
  const running = startPglock(['-d', url, '-k', key, '--', node, join(FIXTURES, 'trap-term.mjs'), log, '5000']);
  await running.waitForStderr(/fixture ready/);
  running.child.kill('SIGTERM');
  await eventually(() => readFileSync(log, 'utf8').includes('cleaning'), 10_000, 'the child to see SIGTERM');
  t.ok(await isGranted(server.admin, id), 'the lock is still held while the child cleans up');
  t.equal((await runPglock(['-d', url, '-k', key, '--', 'true'])).code, 75, 'and nobody else can take it');
  const result = await running.result;
  t.equal(result.code, 0, 'pglock exits with the child\'s code after cleanup');
  t.match(readFileSync(log, 'utf8'), /ready.*\ncleaning.*\ncleaned/);
  t.same(await lockRows(server.admin, id), [], 'released after the child exited');
});

t.test('signals: each forwarded signal reaches the child', async (t) => {
  for (const signal of ['SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) {
    const running = startPglock(['-d', url, '-k', uniqueKey('fwd'), '--', node, '-e',
      `process.on('${signal}', () => { console.log('got ${signal}'); process.exit(7) }); console.error('fixture ready'); setInterval(() => {}, 1000)`]);
    await running.waitForStderr(/fixture ready/);
    running.child.kill(signal);
    const result = await running.result;
    t.equal(result.stdout.toString(), `got ${signal}\n`, signal);
    t.equal(result.code, 7);
  }
});

t.test('lock lost while the child runs (backend terminated): child stopped, exit 70', async (t) => {
  const key = uniqueKey('lost');
  const running = startPglock(['-d', url, '-k', key, '-v', '--', node, '-e', 'setInterval(() => {}, 1000)']);
  await running.waitForStderr(/running/);
  const [row] = await lockRows(server.admin, lockIdForKey(key));
  await server.admin`select pg_terminate_backend(${row?.pid ?? 0})`;
  const result = await running.result;
  t.equal(result.code, 70);
  t.match(result.stderr, /error: lost the lock .*connection closed.*stopping the command/);
  t.match(result.stderr, /was killed by SIGTERM.*exiting 70/);
});

t.test('connection from libpq variables, DATABASE_URL and PGLOCK_DATABASE_URL', async (t) => {
  const libpq = { PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password, PGDATABASE: server.database, PGSSLMODE: 'disable' };
  t.equal((await runPglock(['-k', uniqueKey('libpq'), '--', 'true'], { env: libpq })).code, 0, 'PG* variables');
  t.equal((await runPglock(['-k', uniqueKey('dburl'), '--', 'true'], { env: { DATABASE_URL: url } })).code, 0, 'DATABASE_URL');
  const both = { PGLOCK_DATABASE_URL: url, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x' };
  t.equal((await runPglock(['-k', uniqueKey('pglockurl'), '--', 'true'], { env: both })).code, 0, 'PGLOCK_DATABASE_URL wins');
  const keyFromEnv = await runPglock(['-d', url, '--', node, '-e', 'console.log(process.env.PGLOCK_KEY)'], { env: { PGLOCK_KEY: 'from-env' } });
  t.equal(keyFromEnv.stdout.toString(), 'from-env\n', 'PGLOCK_KEY');
});

t.test('bad input: one clear line, the documented code, no password, no stack trace', async (t) => {
  const port = await freePort();
  const secret = server.password;
  const cases: [string, string[], Record<string, string>, number, RegExp][] = [
    ['unreachable port', ['-d', `postgres://postgres:${secret}@127.0.0.1:${port}/postgres`, '--connect-timeout', '1s'], {}, 69, /cannot connect to postgres@127\.0\.0\.1:\d+\/postgres within 1s: connection refused/],
    ['wrong password', ['-d', url.replace(secret, `${secret}x`)], {}, 69, /authentication failed for postgres@127\.0\.0\.1/],
    ['wrong password via PGPASSWORD', [], { PGHOST: '127.0.0.1', PGPORT: String(server.port), PGUSER: 'postgres', PGPASSWORD: `${secret}y` }, 69, /authentication failed/],
    ['unknown database', ['-d', url.replace(/\/postgres$/, '/no_such_db')], {}, 69, /database 'no_such_db' does not exist/],
    ['malformed URL', ['-d', `postgres://postgres:${secret}@[::1`], {}, 64, /database URL is malformed/],
    ['misspelt flag carrying the URL', [`--databse-url=${url}`], {}, 64, /unknown option/],
    ['bad duration', ['-d', url, '-t', 'soon'], {}, 64, /--timeout takes a duration/],
  ];
  for (const [name, args, env, code, message] of cases) {
    const result = await runPglock([...args, '-k', 'bad-input', '--', 'true'], { env });
    t.equal(result.code, code, `${name}: exit ${code}`);
    t.match(result.stderr, message, `${name}: message`);
    t.equal(result.stderr.split('\n').filter(Boolean).length, 1, `${name}: exactly one line`);
    t.notMatch(result.stderr, /\n\s+at |Error:/, `${name}: no stack trace`);
    t.notOk(result.stderr.includes(secret) || result.stdout.includes(secret), `${name}: no password in any output`);
    t.equal(result.stdout.length, 0, `${name}: nothing on stdout`);
  }
  const verbose = await runPglock(['-d', url.replace(secret, `${secret}z`), '-v', '-k', 'x', '--', 'true']);
  t.notOk(verbose.stderr.includes(secret), 'verbose output hides the password too');
});

t.test('usage: no key, no command, unknown option → 64 before connecting', async (t) => {
  for (const args of [['--', 'true'], ['-k', 'k'], ['-k', 'k', '--nope', '--', 'true'], ['-k', '', '--', 'true']]) {
    const result = await runPglock(['-d', 'postgres://u@127.0.0.1:1/x', ...args]);
    t.equal(result.code, 64, args.join(' '));
    t.match(result.stderr, /^pglock: error: .+\n$/);
  }
  const help = await runPglock(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout.toString(), /Usage: pglock \[options\] -- <command>/);
  const version = await runPglock(['-V']);
  t.match(version.stdout.toString(), /^\d+\.\d+\.\d+\n$/);
});

t.test('sslmode=require against a server without TLS: exit 69 saying so, not only "connection reset"', async (t) => {
  const result = await runPglock(['-d', `${url}?sslmode=require`, '--connect-timeout', '500ms', '-k', uniqueKey('tls'), '--', 'true']);
  t.equal(result.code, 69);
  t.match(result.stderr, /the server does not accept TLS connections, and the sslmode requires TLS \(ENOTLS\)/);
  t.equal(result.stderr.trim().split('\n').length, 1, 'one line');
});
