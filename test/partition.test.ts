// A real partition: pglock runs in a network namespace of its own (a test host made here), joined
// to the server by a veth pair; the link is then cut, so neither side sees a FIN or RST. pglock's
// heartbeat stops the child (exit 70), and the server, through the keepalive settings pglock put
// on its session, drops the dead session and frees the lock within seconds, not hours.
import { execFileSync, spawn } from 'node:child_process';
import t from 'tap';
import { lockIdForKey } from '../src/key/lock-id.js';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { PGLOCK_BIN, cleanEnv, eventually } from './helpers/run-pglock.js';
import { isGranted } from './helpers/locks.js';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const id = process.pid % 100_000;
const ns = `pglock-test-${id}`;
const hostIf = `pglh${id}`;
const nsIf = `pgln${id}`;
const subnet = `10.254.${id % 250}`;

function canMakeNamespaces(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    ip('netns', 'add', ns);
    return true;
  } catch {
    return false;
  }
}

if (!canMakeNamespaces()) {
  t.plan(0, 'needs root and iproute2 (ip netns) to make a test host in a network namespace');
} else {
  t.teardown(() => {
    try { ip('link', 'del', hostIf); } catch { /* gone with the namespace */ }
    try { ip('netns', 'del', ns); } catch { /* already gone */ }
  });
  ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
  ip('link', 'set', nsIf, 'netns', ns);
  ip('addr', 'add', `${subnet}.1/30`, 'dev', hostIf);
  ip('link', 'set', hostIf, 'up');
  ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${subnet}.2/30`, 'dev', nsIf);
  ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up');
  ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');

  const server = await startTestServer(t, {
    own: true,
    listen: `127.0.0.1,${subnet}.1`,
    hba: [`host all all ${subnet}.2/32 scram-sha-256`],
  });

  t.test('link cut under a running pglock: it exits 70, and the server frees the lock in seconds', async (t) => {
    const key = uniqueKey('partition');
    const url = server.url.replace('127.0.0.1', `${subnet}.1`);
    const pglock = spawn('ip', ['netns', 'exec', ns, process.execPath, PGLOCK_BIN, '-d', url, '-k', key, '--heartbeat', '1s', '--kill-after', '1s', '-v', '--', 'sleep', '1000'],
      { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    pglock.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => pglock.on('close', (code) => resolve(code)));
    await eventually(() => stderr.includes('running'), 15_000, 'pglock to run its command');
    t.ok(await isGranted(server.admin, lockIdForKey(key)), 'held across the veth link');
    const cutAt = Date.now();
    ip('link', 'set', hostIf, 'down');
    const code = await exited;
    t.equal(code, 70, 'pglock noticed through its heartbeat and stopped the command');
    t.match(stderr, /did not answer a lock check within 1s/);
    await eventually(async () => !(await isGranted(server.admin, lockIdForKey(key))), 30_000, 'the server to drop the dead session');
    const freedAfter = Date.now() - cutAt;
    t.ok(freedAfter < 20_000, `the server freed the lock ${freedAfter} ms after the cut (heartbeat 1s; default keepalives would take over 2 hours)`);
    t.comment(`partition: server freed the lock ${freedAfter} ms after the link went down`);
  });
}
