// The fault-injection suite: real server, real pglock processes, real children that record what
// happened to them. Each fault must end with the child stopped and pglock saying so (exit 70), or
// with nothing left behind.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { lockIdForKey } from '../src/key/lock-id.js';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { FIXTURES, PGLOCK_BIN, cleanEnv, eventually, runPglock, startPglock } from './helpers/run-pglock.js';
import { isGranted, lockRows } from './helpers/locks.js';
import { startFreezeProxy } from './helpers/freeze-proxy.js';

const server = await startTestServer(t, { own: true });
const url = server.url;
const dir = mkdtempSync(join(tmpdir(), 'pglock-faults-'));
const node = process.execPath;
const forever = [node, '-e', 'console.error("fixture ready"); setInterval(() => {}, 1000)'];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** pid of the child, read from `ps` by its unique marker argument. */
async function pidOf(marker: string): Promise<number> {
  const out = execFileSync('ps', ['-eo', 'pid=,args=']).toString();
  const line = out.split('\n').find((l) => l.includes(marker) && !l.includes('pglock.cjs') && !l.includes('ps -eo') && !l.includes('target='));
  if (!line) throw new Error(`no process with ${marker}`);
  return Number(line.trim().split(/\s+/)[0]);
}

t.test('server stopped while the child runs → child stopped, exit 70', async (t) => {
  const key = uniqueKey('stop');
  const running = startPglock(['-d', url, '-k', key, '--heartbeat', '1s', '--', ...forever]);
  await running.waitForStderr(/fixture ready/);
  await server.stop();
  const result = await running.result;
  await server.start();
  t.equal(result.code, 70);
  t.match(result.stderr, /lost the lock .*: the database connection closed; stopping the command/);
  t.match(result.stderr, /killed by SIGTERM.*exiting 70/);
});

t.test('network cut (traffic frozen, sockets open) → heartbeat notices, child stopped, exit 70', async (t) => {
  const proxy = await startFreezeProxy('127.0.0.1', server.port);
  t.teardown(() => proxy.close());
  const key = uniqueKey('cut');
  const proxied = url.replace(`:${server.port}/`, `:${proxy.port}/`);
  const running = startPglock(['-d', proxied, '-k', key, '--heartbeat', '1s', '--', ...forever]);
  await running.waitForStderr(/fixture ready/);
  const cutAt = Date.now();
  proxy.freeze();
  const result = await running.result;
  const detectedAfter = Date.now() - cutAt;
  t.equal(result.code, 70);
  t.match(result.stderr, /did not answer a lock check within 1s/);
  t.ok(detectedAfter < 6000, `stopped within a few heartbeats (${detectedAfter} ms after the cut; heartbeat 1s)`);
});

t.test('pglock SIGKILLed → its child (and grandchildren) are gone within moments, the lock is free', async (t) => {
  const key = uniqueKey('sigkill');
  const marker = `pglock-marker-${Date.now()}`;
  const nap = `1000.${process.pid}`;
  const running = startPglock(['-d', url, '-k', key, '-c', `sleep ${nap} & ${node} -e 'console.error("fixture ready"); setInterval(() => {}, 1000)' ${marker}; wait`]);
  await running.waitForStderr(/fixture ready/);
  const childPid = await pidOf(marker);
  const grandchildPid = await pidOf(`sleep ${nap}`);
  running.child.kill('SIGKILL');
  await running.result;
  await eventually(() => !alive(childPid), 5000, 'the child to be stopped');
  await eventually(() => !alive(grandchildPid), 5000, 'the background grandchild to be stopped');
  await eventually(async () => !(await isGranted(server.admin, lockIdForKey(key))), 5000, 'the lock to be free');
  t.equal((await runPglock(['-d', url, '-k', key, '--', 'true'])).code, 0, 'another pglock takes it at once');
});

t.test('a child that ignores SIGTERM is SIGKILLed after --kill-after', async (t) => {
  const key = uniqueKey('stubborn');
  const running = startPglock(['-d', url, '-k', key, '--kill-after', '1s', '-v', '--', node, '-e',
    'process.on("SIGTERM", () => console.error("ignoring SIGTERM")); console.error("fixture ready"); setInterval(() => {}, 1000)']);
  await running.waitForStderr(/fixture ready/);
  const [row] = await lockRows(server.admin, lockIdForKey(key));
  await server.admin`select pg_terminate_backend(${row?.pid ?? 0})`;
  await running.waitForStderr(/ignoring SIGTERM/);
  const result = await running.result;
  t.equal(result.code, 70);
  t.match(result.stderr, /was killed by SIGKILL.*exiting 70/);
  const order = ['lost the lock', 'ignoring SIGTERM', 'killed by SIGKILL'].map((text) => result.stderr.indexOf(text));
  t.ok(order.every((at, i) => at >= 0 && (i === 0 || at > (order[i - 1] ?? 0))), 'loss, then SIGTERM ignored, then SIGKILL');
});

t.test('SIGINT to the whole process group, and to pglock alone: the child sees exactly one', async (t) => {
  for (const target of ['group', 'pglock'] as const) {
    const log = join(dir, `sigint-${target}.log`);
    const running = startPglock(['-d', url, '-k', uniqueKey(`int-${target}`), '--', node, join(FIXTURES, 'count-signals.mjs'), log], { detached: true });
    await running.waitForStderr(/fixture ready/);
    const pid = running.child.pid ?? 0;
    process.kill(target === 'group' ? -pid : pid, 'SIGINT');
    const result = await running.result;
    t.equal(readFileSync(log, 'utf8'), 'SIGINT\n', `${target}: exactly one SIGINT`);
    t.equal(result.code, 0, `${target}: pglock exits with the child's code`);
  }
  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) {
    const log = join(dir, `group-${signal}.log`);
    const running = startPglock(['-d', url, '-k', uniqueKey(signal), '--', node, join(FIXTURES, 'count-signals.mjs'), log], { detached: true });
    await running.waitForStderr(/fixture ready/);
    process.kill(-(running.child.pid ?? 0), signal);
    await running.result;
    t.equal(readFileSync(log, 'utf8'), `${signal}\n`, `${signal} to the group: exactly one`);
  }
});

t.test('SIGTERM while waiting → prompt exit 143, the child never ran, no waiter left on the server', async (t) => {
  const key = uniqueKey('wait-term');
  const id = lockIdForKey(key);
  const holder = startPglock(['-d', url, '-k', key, '--', ...forever]);
  await holder.waitForStderr(/fixture ready/);
  const marker = join(dir, 'waiter-ran');
  const waiter = startPglock(['-d', url, '-k', key, '--wait', '--', 'touch', marker]);
  await eventually(async () => (await lockRows(server.admin, id)).some((row) => !row.granted), 10_000, 'the waiter to queue');
  const sentAt = Date.now();
  waiter.child.kill('SIGTERM');
  const result = await waiter.result;
  t.equal(result.code, 143);
  t.ok(Date.now() - sentAt < 3000, 'prompt');
  t.match(result.stderr, /received SIGTERM before the lock was acquired; the command did not run/);
  t.notOk(existsSync(marker), 'the child never ran');
  await eventually(async () => (await lockRows(server.admin, id)).every((row) => row.granted), 5000, 'no waiter left');
  t.equal((await lockRows(server.admin, id)).length, 1, 'only the holder remains');
  holder.child.kill('SIGTERM');
  await holder.result;
});

t.test('a waiter SIGKILLed while waiting does not linger as a ghost that is later granted the lock', async (t) => {
  const key = uniqueKey('ghost');
  const id = lockIdForKey(key);
  const holder = startPglock(['-d', url, '-k', key, '--', ...forever]);
  await holder.waitForStderr(/fixture ready/);
  const waiter = startPglock(['-d', url, '-k', key, '--wait', '--heartbeat', '1s', '--', 'true']);
  await eventually(async () => (await lockRows(server.admin, id)).some((row) => !row.granted), 10_000, 'the waiter to queue');
  waiter.child.kill('SIGKILL');
  await eventually(async () => (await lockRows(server.admin, id)).every((row) => row.granted), 10_000, 'the ghost waiter to go');
  t.pass('the server dropped the dead waiter (client_connection_check_interval)');
  holder.child.kill('SIGTERM');
  await holder.result;
});

t.test('role-level timeouts of 1s do not kill the lock session or a long wait', async (t) => {
  const role = `pglock_timeouts_${process.pid}`;
  await server.admin.unsafe(`create role ${role} login password 'role-pw-123'`);
  for (const setting of ['statement_timeout', 'idle_session_timeout', 'idle_in_transaction_session_timeout']) {
    await server.admin.unsafe(`alter role ${role} set ${setting} = '1s'`);
  }
  t.teardown(() => server.admin.unsafe(`drop role if exists ${role}`));
  const roleUrl = `postgres://${role}:role-pw-123@127.0.0.1:${server.port}/postgres`;
  const key = uniqueKey('role');
  const log = join(dir, 'role.log');
  const holder = startPglock(['-d', roleUrl, '-k', key, '-v', '--', node, join(FIXTURES, 'record.mjs'), log, 'holder', '3000']);
  await holder.waitForStderr(/running/);
  const waiter = await runPglock(['-d', roleUrl, '-k', key, '--wait', '--', node, join(FIXTURES, 'record.mjs'), log, 'waiter', '0']);
  t.equal((await holder.result).code, 0, 'the 3 s holder finished (idle 3 s > idle_session_timeout)');
  t.equal(waiter.code, 0, 'the waiter waited 3 s (> statement_timeout) and ran');
  t.match(readFileSync(log, 'utf8'), /start holder.*\nend holder.*\nstart waiter.*\nend waiter/);
});

// Making a PID namespace needs root and unshare(1); CI runs as root, so this normally runs.
const pid1Skip = process.getuid?.() === 0 && unshareWorks() ? false : 'needs root and unshare(1) to create a PID namespace';

function unshareWorks(): boolean {
  try {
    execFileSync('unshare', ['--pid', '--fork', 'true']);
    return true;
  } catch {
    return false;
  }
}

t.test('as PID 1 (a container entrypoint without an init), SIGTERM is still handled and forwarded', { skip: pid1Skip }, async (t) => {
  const log = join(dir, 'pid1.log');
  const inner = `echo "pid=$$" >&2; exec ${node} ${PGLOCK_BIN} -d ${url} -k ${uniqueKey('pid1')} -- ${node} ${join(FIXTURES, 'count-signals.mjs')} ${log}`;
  const unshare = spawn('unshare', ['--pid', '--fork', 'sh', '-c', inner], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  unshare.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await eventually(() => stderr.includes('fixture ready'), 15_000, 'the child to start');
  t.match(stderr, /pid=1\n/, 'pglock runs as PID 1 in its namespace');
  const hostPid = Number(execFileSync('ps', ['-o', 'pid=', '--ppid', String(unshare.pid)]).toString().trim());
  process.kill(hostPid, 'SIGTERM');
  const code = await new Promise<number | null>((resolve) => unshare.on('close', (c) => resolve(c)));
  t.equal(readFileSync(log, 'utf8'), 'SIGTERM\n', 'the child got exactly one SIGTERM');
  t.equal(code, 0, 'pglock exited with the child\'s code');
});
