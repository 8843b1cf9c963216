// End-to-end host lists (issue 10): the built binary and the library against a real server, with
// hosts that refuse connections before it, PGHOST/PGPORT lists, Unix sockets, and
// target_session_attrs values pglock cannot honour.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { acquireLock } from '../src/index.js';
import { lockIdForKey } from '../src/key/lock-id.js';
import { freePort, startTestServer, uniqueKey } from './helpers/server.js';
import { runPglock, startPglock } from './helpers/run-pglock.js';
import { isGranted } from './helpers/locks.js';

const server = await startTestServer(t);
const auth = `${encodeURIComponent(server.user)}:${encodeURIComponent(server.password)}`;
const db = encodeURIComponent(server.database);
const closed = await freePort();
const closed2 = await freePort();
const socketDir = server.cluster?.socketDir;
const gates = mkdtempSync(join(tmpdir(), 'pglock-hosts-'));
t.teardown(() => rmSync(gates, { recursive: true, force: true }));

/** The pglock session of `key`, as the server sees it: its client address (null over a Unix socket). */
async function sessionOf(key: string): Promise<{ client_addr: string | null }[]> {
  return server.admin<{ client_addr: string | null }[]>`
    select client_addr from pg_stat_activity where application_name like ${`pglock:${key}@%`}`;
}

/**
 * Run pglock with a command that waits until the test has looked at the server (a gate file), then
 * prints "ran": what the server showed while the lock was held, and how pglock ended.
 */
async function holdAndLook(args: string[], env: Record<string, string> = {}) {
  const key = uniqueKey('hosts');
  const gate = join(gates, key.replace(/\W/g, '_'));
  const holder = startPglock([...args, '-k', key, '-v', '--', 'sh', '-c', `while [ ! -e '${gate}' ]; do sleep 0.02; done; echo ran`], { env });
  t.teardown(() => {
    if (holder.child.exitCode === null) holder.child.kill('SIGKILL');
  });
  try {
    await holder.waitForStderr(/running sh/);
    return { granted: await isGranted(server.admin, lockIdForKey(key)), sessions: await sessionOf(key), result: await open() };
  } catch (error) {
    holder.child.kill('SIGKILL');
    throw error;
  }
  async function open() {
    writeFileSync(gate, '');
    return holder.result;
  }
}

/** It ran to the end, on the real server, holding the lock, with one session. */
function ranHolding(t: Test, seen: Awaited<ReturnType<typeof holdAndLook>>) {
  t.equal(seen.result.code, 0, `exit 0 ${seen.result.stderr}`);
  t.equal(seen.result.stdout.toString(), 'ran\n', 'the command ran');
  t.ok(seen.granted, 'the lock was held on the real server while it ran');
  t.equal(seen.sessions.length, 1, 'one session for the lock');
}

t.test('a URL whose first host refuses connections: pglock goes on to the second and runs', async (t) => {
  const url = `postgres://${auth}@127.0.0.1:${closed},127.0.0.1:${server.port}/${db}`;
  const seen = await holdAndLook(['-d', url]);
  ranHolding(t, seen);
  t.match(seen.result.stderr, `connecting to ${server.user}@127.0.0.1:${closed},127.0.0.1:${server.port}/${server.database}`, '-v names both hosts');
  t.notMatch(seen.result.stderr, /error|warn/, 'a refused host that is not the last is no error');
  t.notMatch(seen.result.stderr, server.password);
});

t.test('PGHOST and PGPORT lists: the closed port first, the real one second', async (t) => {
  const env = { PGHOST: '127.0.0.1,127.0.0.1', PGPORT: `${closed},${server.port}`, PGUSER: server.user, PGPASSWORD: server.password, PGDATABASE: server.database };
  const [seen, onePort, mismatch] = await Promise.all([
    holdAndLook([], env),
    // One port for every host: PGHOST lists the server twice, PGPORT names its port once.
    runPglock(['-k', uniqueKey('pgport-one'), '--', 'echo', 'ran'], { env: { ...env, PGHOST: 'localhost,127.0.0.1', PGPORT: String(server.port) } }),
    runPglock(['-k', uniqueKey('pgport-mismatch'), '--', 'echo', 'ran'], { env: { ...env, PGPORT: `${closed},${closed2},${server.port}` } }),
  ]);
  ranHolding(t, seen);
  t.equal(onePort.code, 0, `one port for both hosts: ${onePort.stderr}`);
  t.equal(onePort.stdout.toString(), 'ran\n');
  t.equal(mismatch.code, 64, 'more ports than hosts: a usage error');
  t.equal(mismatch.stderr, 'pglock: error: could not match 3 port numbers to 2 hosts\n');
  t.equal(mismatch.stdout.length, 0, 'the command did not run');
});

t.test('only closed ports: 69 within --connect-timeout, one line naming each host', async (t) => {
  const url = `postgres://${auth}@127.0.0.1:${closed},127.0.0.1:${closed2}/${db}`;
  const started = Date.now();
  const result = await runPglock(['-d', url, '-k', uniqueKey('all-closed'), '--connect-timeout', '1s', '--', 'echo', 'ran']);
  const elapsed = Date.now() - started;
  t.equal(result.code, 69);
  t.equal(result.stdout.length, 0, 'the command did not run');
  const lines = result.stderr.trimEnd().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /^pglock: error: cannot connect to a primary of /);
  t.match(lines[0], `127.0.0.1:${closed}: connection refused (ECONNREFUSED)`, 'the first host and what it was');
  t.match(lines[0], `127.0.0.1:${closed2}: connection refused (ECONNREFUSED)`, 'the second host and what it was');
  t.match(lines[0], /within 1s/, 'says it kept trying for the connect timeout');
  t.notMatch(result.stderr, server.password);
  t.ok(elapsed >= 900, `it retried for about the connect timeout (${elapsed}ms)`);
  t.ok(elapsed < 10_000, `and then gave up (${elapsed}ms)`);
});

t.test('target_session_attrs: a standby is refused with 64 and the reason; primary-compatible values run', async (t) => {
  const base = `postgres://${auth}@127.0.0.1:${server.port}/${db}`;
  const env = { PGHOST: '127.0.0.1', PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password, PGDATABASE: server.database };
  const [readOnly, standbyEnv, bogus, readWrite] = await Promise.all([
    runPglock(['-d', `${base}?target_session_attrs=read-only`, '-k', uniqueKey('tsa'), '--', 'echo', 'ran']),
    runPglock(['-k', uniqueKey('tsa'), '--', 'echo', 'ran'], { env: { ...env, PGTARGETSESSIONATTRS: 'standby' } }),
    runPglock(['-d', `${base}?target_session_attrs=bogus`, '-k', uniqueKey('tsa'), '--', 'echo', 'ran']),
    runPglock(['-d', `postgres://${auth}@127.0.0.1:${closed},127.0.0.1:${server.port}/${db}?target_session_attrs=read-write`, '-k', uniqueKey('tsa'), '--', 'echo', 'ran']),
  ]);
  for (const [what, result, value] of [['URL', readOnly, 'read-only'], ['PGTARGETSESSIONATTRS', standbyEnv, 'standby']] as const) {
    t.equal(result.code, 64, `${what} ${value}`);
    t.equal(result.stdout.length, 0, 'the command did not run');
    t.match(result.stderr, new RegExp(`^pglock: error: target_session_attrs=${value} asks for a standby, and pglock locks only on a primary \\(advisory locks are not replicated.*\\n$`));
    t.equal(result.stderr.trimEnd().split('\n').length, 1, 'one line');
    t.notMatch(result.stderr, server.password);
  }
  t.equal(bogus.code, 64, 'an unknown value');
  t.equal(bogus.stderr, "pglock: error: target_session_attrs must be any, read-write or primary, got 'bogus'\n");
  t.equal(readWrite.code, 0, `read-write runs on the primary: ${readWrite.stderr}`);
  t.equal(readWrite.stdout.toString(), 'ran\n');
});

t.test('a malformed multi-host URL: 64, one line, never any part of the password', async (t) => {
  const [bracket, slash] = await Promise.all([
    runPglock(['-d', 'postgres://u:hunter2secret@h1:5432,[::1/db', '-k', uniqueKey('bad'), '--', 'echo', 'ran']),
    // An unescaped '/' in the password ends the host part early (as in libpq): the rest of the
    // password must not come back as a "port".
    runPglock(['-d', 'postgres://u:hunter2/secret@h1,h2/db', '-k', uniqueKey('bad'), '--', 'echo', 'ran']),
  ]);
  for (const [what, result] of [['unclosed bracket', bracket], ["'/' in the password", slash]] as const) {
    t.equal(result.code, 64, what);
    t.equal(result.stdout.length, 0, `${what}: the command did not run`);
    t.equal(result.stderr.trimEnd().split('\n').length, 1, `${what}: one line`);
    t.notMatch(result.stderr, /hunter2|secret/, `${what}: no part of the password (${result.stderr.trim()})`);
  }
});

t.test('a Unix socket directory as the host', { skip: socketDir ? false : 'needs our own server (its socket directory)' }, async (t) => {
  const dir = socketDir!;
  const [encoded, param] = await Promise.all([
    holdAndLook(['-d', `postgres://${auth}@${encodeURIComponent(dir)}:${server.port}/${db}`]),
    holdAndLook(['-d', `postgres://${auth}@/${db}?host=${dir}&port=${server.port}`]),
  ]);
  ranHolding(t, encoded);
  t.same(encoded.sessions, [{ client_addr: null }], 'a percent-encoded directory as the URL host: over the Unix socket (no client address)');
  t.match(encoded.result.stderr, `connecting to ${server.user}@${dir}/.s.PGSQL.${server.port}/${server.database}`, '-v names the socket');
  ranHolding(t, param);
  t.same(param.sessions, [{ client_addr: null }], '?host=<dir>&port=<port>: over the socket too');
});

t.test('a host list mixing a socket directory and a TCP host', { skip: socketDir ? false : 'needs our own server (its socket directory)' }, async (t) => {
  const dir = encodeURIComponent(socketDir!);
  const env = { PGHOST: `127.0.0.1,${socketDir}`, PGPORT: `${closed},${server.port}`, PGUSER: server.user, PGPASSWORD: server.password, PGDATABASE: server.database };
  const [tcp, sock, none] = await Promise.all([
    // No socket for the closed port in that directory (ENOENT), then TCP.
    holdAndLook(['-d', `postgres://${auth}@${dir}:${closed},127.0.0.1:${server.port}/${db}`]),
    // A closed TCP port first, then the socket; from PGHOST/PGPORT this time.
    holdAndLook([], env),
    // Neither reachable: each named in the one-line error, the socket by its path.
    runPglock(['-d', `postgres://${auth}@${dir}:${closed},127.0.0.1:${closed2}/${db}`, '-k', uniqueKey('mix-none'), '--connect-timeout', '300ms', '--', 'true']),
  ]);
  ranHolding(t, tcp);
  t.not(tcp.sessions[0]?.client_addr, null, 'a missing socket, then TCP: over TCP');
  ranHolding(t, sock);
  t.same(sock.sessions, [{ client_addr: null }], 'a closed TCP port, then the socket: over the socket');
  t.equal(none.code, 69);
  t.match(none.stderr, `${socketDir}/.s.PGSQL.${closed}: no such socket (ENOENT)`);
  t.match(none.stderr, `127.0.0.1:${closed2}: connection refused (ECONNREFUSED)`);
  t.equal(none.stderr.trimEnd().split('\n').length, 1, 'one line');
});

t.test('the library: acquireLock with a multi-host URL whose first host is closed', async (t) => {
  const key = uniqueKey('lib');
  const url = `postgres://${auth}@127.0.0.1:${closed},127.0.0.1:${server.port}/${db}`;
  const lock = await acquireLock({ url, key, env: {} });
  t.ok(lock.isHeld);
  t.ok(await isGranted(server.admin, lockIdForKey(key)), 'granted on the real server');
  const [row] = await lock.sql<{ port: number }[]>`select pg_catalog.inet_server_port() as port`;
  t.equal(row?.port, server.port, 'the session is on the second host');
  await t.rejects(acquireLock({ url, key, env: {} }), { name: 'LockBusyError' }, 'a second acquire through the same list finds it busy');
  await lock.release();
  t.notOk(await isGranted(server.admin, lockIdForKey(key)), 'released');
  await t.rejects(
    acquireLock({ url: `postgres://${auth}@127.0.0.1:${closed},127.0.0.1:${closed2}/${db}`, key, env: {}, connectTimeoutMs: 300 }),
    { name: 'DatabaseUnavailableError', exitCode: 69, message: new RegExp(`127\\.0\\.0\\.1:${closed}: connection refused.*127\\.0\\.0\\.1:${closed2}: connection refused`) },
    'no host reachable: DatabaseUnavailableError naming each host',
  );
  await t.rejects(acquireLock({ url: `${url}?target_session_attrs=standby`, key, env: {} }), { name: 'UsageError', exitCode: 64 });
});
