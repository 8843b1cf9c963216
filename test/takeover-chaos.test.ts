// The takeover delay with the CLI (docs/safety.md): a holder whose command ignores SIGTERM and keeps
// writing until SIGKILL is cut off four ways (its backend terminated, its pglock SIGKILLed, all its
// traffic frozen, the server restarted), with a --wait contender queued behind it. The two commands'
// ticks, from one shared log and one clock, must never interleave: the waiter's first tick comes
// after the holder's last. Then the reverse check: a clean handover is not delayed.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { startFreezeProxy } from './helpers/freeze-proxy.js';
import { FIXTURES, runPglock, startPglock } from './helpers/run-pglock.js';

const server = await startTestServer(t, { own: true });
const dir = mkdtempSync(join(tmpdir(), 'pglock-takeover-'));
// The holder's bound: 2 x 300 ms heartbeat, the primary check (300 ms + 300 ms to connect),
// 1.2 x 700 ms kill-after + 0.5 s: 2.54 s.
const FLAGS = ['--heartbeat', '300ms', '--kill-after', '700ms', '-v'];

function ticks(log: string): Map<string, { first: number; last: number; count: number }> {
  const spans = new Map<string, { first: number; last: number; count: number }>();
  for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
    const [, label = '', at = '0'] = line.split(' ');
    const span = spans.get(label) ?? { first: Number(at), last: Number(at), count: 0 };
    span.first = Math.min(span.first, Number(at));
    span.last = Math.max(span.last, Number(at));
    span.count++;
    spans.set(label, span);
  }
  return spans;
}

async function scenario(t: Test, name: string, cut: (holder: ReturnType<typeof startPglock>, backendPid: number) => Promise<void>, url = server.url, lookAtStatus = false) {
  const key = uniqueKey(`takeover-${name}`);
  const log = join(dir, `${name}.log`);
  const holder = startPglock(['-d', url, '-k', key, ...FLAGS, '--', process.execPath, join(FIXTURES, 'ticker.mjs'), log, 'holder'], { detached: true });
  t.teardown(() => {
    try {
      process.kill(-holder.child.pid!, 'SIGKILL');
    } catch {}
  });
  await holder.waitForStderr(/running /);
  const waiter = startPglock(['-d', server.url, '-k', key, '--wait', ...FLAGS, '--', process.execPath, join(FIXTURES, 'ticker.mjs'), log, 'waiter', '600']);
  await waiter.waitForStderr(/connecting/);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const [row] = await server.admin.unsafe(`select pid from pg_stat_activity where application_name like $1`, [`pglock:${key}@%`]);
  await cut(holder, row!.pid);
  if (lookAtStatus) {
    // While the waiter holds the lock and waits, pglock status says so, and until when.
    await waiter.waitForStderr(/was cut off without releasing it/);
    const status = await runPglock(['status', '-d', server.url, '--key', key, '--json']);
    const [entry] = JSON.parse(status.stdout.toString()).locks;
    t.ok(entry?.granted && typeof entry.delayedUntil === 'string', `status --json: holding, start delayed until ${entry?.delayedUntil}`);
    const text = await runPglock(['status', '-d', server.url, '--key', key]);
    t.match(text.stdout.toString(), /holding, start delayed until \d{4}-\d\d-\d\dT[\d:]+Z/, 'status: the same in the table');
  }
  const result = await waiter.result;
  t.equal(result.code, 0, `the waiter ran (${result.stderr.trim().split('\n').slice(-3).join(' | ')})`);
  t.match(result.stderr, /pglock: the previous holder \(pid \d+ on .+, backend \d+\) of the lock '.*' \(id -?\d+\) was cut off without releasing it; waiting [\d.]+m?s, until \S+, for it to have stopped \(its bound: 2\.5s\)/,
    'the waiter said why and how long it waits');
  const spans = ticks(log);
  const before = spans.get('holder')!;
  const after = spans.get('waiter')!;
  t.ok(before && after, 'both commands ran');
  t.ok(after.first > before.last, `no interleaving: the holder's last tick ${Math.round(after.first - before.last)} ms before the waiter's first (${before.count} and ${after.count} ticks)`);
}

t.test('the holder\'s backend terminated', (t) => scenario(t, 'terminated', async (_holder, pid) => {
  await server.admin.unsafe(`select pg_terminate_backend(${pid})`);
}, server.url, true));

t.test('the holder\'s pglock SIGKILLed (its watchdog stops the command)', (t) => scenario(t, 'killed', async (holder) => {
  holder.child.kill('SIGKILL');
}));

// The worst order for a silent cut: the server drops the session at once (here: terminated, as its
// own keepalive or tcp_user_timeout would, which the proxy's kernel answers for it), and the holder's
// pglock learns of nothing until its heartbeat goes unanswered.
t.test('all of the holder\'s traffic frozen (a silent network cut), the server first to notice', async (t) => {
  const proxy = await startFreezeProxy(server.host, server.port);
  t.teardown(() => proxy.close());
  const url = new URL(server.url);
  url.host = `127.0.0.1:${proxy.port}`;
  await scenario(t, 'frozen', async (_holder, pid) => {
    proxy.freeze();
    await server.admin.unsafe(`select pg_terminate_backend(${pid})`);
  }, url.href);
});

t.test('the server restarted', (t) => scenario(t, 'restart', async () => {
  await server.stop();
  await server.start();
}));

t.test('a clean handover is not delayed', async (t) => {
  const key = uniqueKey('takeover-clean');
  const log = join(dir, 'clean.log');
  const holder = startPglock(['-d', server.url, '-k', key, ...FLAGS, '--', process.execPath, join(FIXTURES, 'ticker.mjs'), log, 'holder', '500']);
  await holder.waitForStderr(/running /);
  const waiter = startPglock(['-d', server.url, '-k', key, '--wait', ...FLAGS, '--', process.execPath, join(FIXTURES, 'ticker.mjs'), log, 'waiter', '100']);
  t.equal((await holder.result).code, 0);
  const result = await waiter.result;
  t.equal(result.code, 0);
  t.notMatch(result.stderr, /cut off/, 'no delay');
  const spans = ticks(log);
  const gap = spans.get('waiter')!.first - spans.get('holder')!.last;
  // No delay message above says it did not wait; the gap is reported, not bounded (a loaded machine starts Node slowly).
  t.ok(gap > 0, `the waiter started ${Math.round(gap)} ms after the holder's last tick (its bound, had it waited: 2.54 s)`);
});
