// Leader election across real processes against a real server: three contenders, then kill -9 the
// leader, SIGTERM the next, terminate a leader's backend, restart the server. A shared log of each
// term (start when onLeading is called, end when its signal aborts) shows that no two led at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { elect, lockIdForKey } from '../src/index.js';
import { lockIdHalves } from '../src/key/lock-id.js';
import { FIXTURES } from './helpers/run-pglock.js';
import { maxOverlapMs, readSections } from './helpers/overlap.js';
import { startTestServer, uniqueKey } from './helpers/server.js';

const server = await startTestServer(t);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function readLog(log: string): string[] {
  try {
    return readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

// The contender leading now: the last term started and not ended.
function currentLeader(log: string): { name: string; start: number } | undefined {
  const open = readSections(log).filter((section) => section.end === Number.POSITIVE_INFINITY);
  const last = open.at(-1);
  return last === undefined ? undefined : { name: last.label.split('#')[0]!, start: last.start };
}

function leaderBackend(key: string): Promise<number | undefined> {
  const { classid, objid } = lockIdHalves(lockIdForKey(key));
  return server.admin<{ pid: number }[]>`select pid from pg_locks where locktype = 'advisory' and granted
    and classid = ${classid}::oid and objid = ${objid}::oid`.then((rows) => rows[0]?.pid);
}

t.test('three processes, one leader at a time through kill -9, SIGTERM, a terminated backend and a server restart', async (t) => {
  const key = uniqueKey('leader');
  const log = join(mkdtempSync(join(tmpdir(), 'pglock-elect-')), 'terms.log');
  const children = new Map<string, ChildProcess>();
  const startContender = (name: string) => {
    const child = spawn(process.execPath, [join(FIXTURES, 'elect.mjs'), server.url, key, log, name], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.set(name, child);
    return child;
  };
  t.teardown(() => children.forEach((child) => child.kill('SIGKILL')));
  for (const name of ['a', 'b', 'c']) startContender(name);
  const terms = () => readSections(log);
  await waitFor(() => currentLeader(log) !== undefined, 'a first leader');
  await sleep(500);
  t.equal(terms().length, 1, 'one leader among three');

  // kill -9: the process is gone, its session ends, a waiter is granted at once.
  const first = currentLeader(log)!;
  const killedAt = Date.now();
  children.get(first.name)!.kill('SIGKILL');
  // A killed leader writes no end: its term ends when it died.
  await waitFor(() => terms().length === 2, 'a leader after kill -9');
  const second = currentLeader(log)!;
  t.not(second.name, first.name);
  t.comment(`re-elected ${Math.round(second.start - killedAt)} ms after kill -9 of the leader`);
  startContender(`${first.name}2`);

  // SIGTERM: stop() resigns; the next waiter leads as soon as the lock is released.
  const resignedAt = Date.now();
  children.get(second.name)!.kill('SIGTERM');
  await waitFor(() => terms().length === 3 && currentLeader(log) !== undefined, 'a leader after SIGTERM');
  const third = currentLeader(log)!;
  const secondEnd = terms().find((term) => term.label.startsWith(`${second.name}#`))!.end;
  t.ok(secondEnd <= third.start, 'the resigning leader ended its term before the next began');
  t.comment(`handover after stop(): ${Math.round(third.start - secondEnd)} ms from the old term's end to the new term's start (${Math.round(third.start - resignedAt)} ms after SIGTERM)`);
  t.ok(third.start - secondEnd < 5000, 'handover within seconds');
  startContender(`${second.name}2`);

  // The leader's backend is terminated: it loses leadership, contends again, someone leads.
  const backend = await leaderBackend(key);
  t.ok(backend, 'the leader holds the lock on the server');
  const terminatedAt = Date.now();
  await server.admin`select pg_terminate_backend(${backend!})`;
  await waitFor(() => terms().length === 4 && currentLeader(log) !== undefined, 'a leader after the backend was terminated');
  t.comment(`re-elected ${Math.round(currentLeader(log)!.start - terminatedAt)} ms after pg_terminate_backend`);
  await waitFor(() => readLog(log).some((line) => line.startsWith(`stopped ${third.name} `) && line.endsWith(' lost')), 'the old leader to report the loss');

  // A server restart: every session ends; after it, one leader again.
  await server.stop();
  await sleep(500);
  await server.start();
  await waitFor(() => terms().length === 5 && currentLeader(log) !== undefined, 'a leader after the server restart', 60_000);
  await sleep(1000);

  const all = terms().map((term) => (term.label.startsWith(`${first.name}#`) ? { ...term, end: killedAt } : term));
  t.comment(readLog(log).filter((line) => !line.startsWith('start') && !line.startsWith('end')).join('\n'));
  t.equal(all.filter((term) => term.end === Number.POSITIVE_INFINITY).length, 1, 'exactly one leads at the end');
  t.ok(maxOverlapMs(all) <= 0, `no two led at once (worst overlap ${maxOverlapMs(all).toFixed(1)} ms over ${all.length} terms)`);
  for (const [name, child] of children) if (child.exitCode === null && name !== first.name) child.kill('SIGTERM');
});

t.test('in process: isLeader, leader(), stop() resigns and hands over, errors go to onError', async (t) => {
  const key = uniqueKey('inproc');
  const events: string[] = [];
  const one = elect({
    url: server.url, key,
    onLeading: (signal) => new Promise<void>((resolve) => {
      events.push('one leads');
      signal.addEventListener('abort', () => resolve());
    }),
    onStopped: (end) => events.push(`one stopped: ${end.reason}`),
  });
  await waitFor(() => one.isLeader, 'one to lead');
  const leader = await one.leader();
  t.match(leader, { self: true, pid: process.pid });
  const two = elect({
    url: server.url, key,
    onLeading: () => { events.push('two leads'); },
  });
  await sleep(300);
  t.equal(two.isLeader, false, 'one leader at a time');
  t.match(await two.leader(), { pid: process.pid, self: true }, 'leader() asks the server (the leader is in this same process)');
  const stopped = Date.now();
  await one.stop();
  t.equal(one.isLeader, false);
  await waitFor(() => events.includes('two leads'), 'two to lead after one resigned');
  t.comment(`handover after stop(): ${Date.now() - stopped} ms`);
  t.same(events.slice(0, 3), ['one leads', 'one stopped: stopped', 'two leads']);
  await two.stop();
  t.equal(await two.leader(), undefined, 'nobody leads after both stopped');

  const errors: Error[] = [];
  const broken = elect({ url: server.url.replace(`:${server.password}@`, ':wrong-password-17@'), key, connectTimeoutMs: 200, retry: { minDelayMs: 20, maxDelayMs: 50 }, onLeading: () => {}, onError: (error) => errors.push(error) });
  await waitFor(() => errors.length >= 2, 'errors while contending');
  await broken.stop();
  t.match(errors[0], { name: 'DatabaseUnavailableError', code: 'EAUTH' }, 'cannot connect: onError, then it contends again');
  t.notMatch(errors[0]!.message, /wrong-password-17/, 'no password in the error');
  t.throws(() => elect({ url: server.url, key } as never), { name: 'UsageError' });
  t.throws(() => elect({ url: server.url, onLeading: () => {} }), { name: 'UsageError' });
});
