// The fence (docs/safety.md): a job checks, in its own transaction where it writes, that no newer
// holder has started (pglock_fence, lock.fence()); the check holds back a newer holder's start until
// that transaction ends. So a stale holder's write commits before the newer holder starts, or fails,
// however long the stale holder was paused.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import t from 'tap';
import { acquireLock, FencedError, UsageError } from '../src/index.js';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { FIXTURES, eventually, startPglock } from './helpers/run-pglock.js';

const server = await startTestServer(t);
const url = server.url;
const table = `fenced_writes_${process.pid}`;
await server.admin.unsafe(`create table ${table} (label text, token bigint)`);
const app = postgres(url, { max: 2, onnotice: () => {} });
t.teardown(() => app.end({ timeout: 1 }));
const terminate = (pid: number) => server.admin.unsafe(`select pg_terminate_backend(${pid})`);
const written = async (label: string) => (await server.admin.unsafe(`select token::text from ${table} where label = $1`, [label])).map((row) => row.token);

t.test('a current holder writes through the fence; without a token, fence() is a usage error', async (t) => {
  const key = uniqueKey('fence-ok');
  await using lock = await acquireLock({ url, key, fencingToken: true });
  await app.begin(async (tx) => {
    await lock.fence(tx);
    await tx.unsafe(`insert into ${table} values ('ok', ${lock.fencingToken})`);
  });
  t.same(await written('ok'), [String(lock.fencingToken)]);
  await using plain = await acquireLock({ url, key: uniqueKey('fence-plain') });
  await t.rejects(app.begin((tx) => plain.fence(tx)), UsageError);
});

t.test('a stale holder (a newer one has started) is refused, and its transaction writes nothing', async (t) => {
  const key = uniqueKey('fence-stale');
  const stale = await acquireLock({ url, key, fencingToken: true, heartbeatMs: 200 });
  await terminate(stale.backendPid);
  await stale.lost;
  const fresh = await acquireLock({ url, key, fencingToken: true });
  t.ok(fresh.fencingToken! > stale.fencingToken!, 'the newer holder has a newer token');
  await t.rejects(app.begin(async (tx) => {
    await tx.unsafe(`insert into ${table} values ('stale-before', ${stale.fencingToken})`);
    await stale.fence(tx);
    await tx.unsafe(`insert into ${table} values ('stale-after', ${stale.fencingToken})`);
  }), { name: 'FencedError', code: 'EFENCED', exitCode: 70, message: /is stale: lock id -?\d+ has a newer holder/ });
  t.same([...await written('stale-before'), ...await written('stale-after')], [], 'nothing it wrote is visible');
  await fresh.release();
  t.ok(FencedError);
});

t.test('a fenced transaction still open holds back the newer holder\'s start until it ends', async (t) => {
  const key = uniqueKey('fence-holdback');
  const old = await acquireLock({ url, key, fencingToken: true, heartbeatMs: 200 });
  const order: string[] = [];
  let commit!: () => void;
  const committed = app.begin(async (tx) => {
    await old.fence(tx);
    await tx.unsafe(`insert into ${table} values ('holdback-old', ${old.fencingToken})`);
    order.push('old fenced and wrote');
    await new Promise<void>((resolve) => (commit = resolve));
  }).then(() => order.push('old committed'));
  await eventually(() => commit !== undefined, 15_000, 'the old holder is inside its fenced transaction');
  await terminate(old.backendPid);
  await old.lost;
  let commitAsked = false;
  const next = acquireLock({ url, key, fencingToken: true, lockDelay: 0 })
    .then((lock) => (order.push(commitAsked ? 'new holder started after the commit was asked' : 'new holder started'), lock));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.same(order, ['old fenced and wrote'], 'the new holder waits while the fenced transaction is open');
  commitAsked = true;
  commit();
  const lock = await next;
  await committed;
  // The server orders the commit before the new start; the client may hear of the two either way.
  t.same([...order].sort(), ['new holder started after the commit was asked', 'old committed', 'old fenced and wrote']);
  t.same(await written('holdback-old'), [String(old.fencingToken)], 'the old write committed, before the new holder started');
  await lock.release();
});

t.test('READ COMMITTED only: in a repeatable read transaction the fence refuses', async (t) => {
  await using lock = await acquireLock({ url, key: uniqueKey('fence-rr'), fencingToken: true });
  await t.rejects(app.begin('isolation level repeatable read', (tx) => lock.fence(tx)), { code: 'PGLF2' });
});

t.test('the CLI: a paused holder (pglock and its command stopped) is taken over; resumed, its write fails', async (t) => {
  const key = uniqueKey('fence-paused');
  const dir = mkdtempSync(join(tmpdir(), 'pglock-fence-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const go = (name: string) => join(dir, name);
  const command = (label: string) => ['--', process.execPath, join(FIXTURES, 'fenced-write.mjs'), url, table, label, go(label)];
  const old = startPglock(['-d', url, '-k', key, '-v', '--fencing-token', '--heartbeat', '300ms', '--kill-after', '1s', ...command('paused')]);
  t.teardown(() => old.child.kill('SIGKILL'));
  let commandPid = 0;
  await eventually(() => {
    commandPid = Number(/running \S+ \(pid (\d+)\)/.exec(old.stderrSoFar())?.[1] ?? 0);
    return commandPid > 0 && existsSync(`${go('paused')}.ready`);
  }, 15_000, 'the old holder runs its command');
  const [holder] = await server.admin.unsafe(`select pid from pg_stat_activity where application_name like $1`, [`pglock:${key}@%`]);
  // A VM pause: pglock and its command (a process group of its own) stop; the server ends the session.
  process.kill(old.child.pid!, 'SIGSTOP');
  process.kill(-commandPid, 'SIGSTOP');
  await terminate(holder!.pid);
  writeFileSync(go('fresh'), '');
  const fresh = startPglock(['-d', url, '-k', key, '--fencing-token', ...command('fresh')]);
  t.equal((await fresh.result).code, 0, 'the new holder ran and wrote');
  writeFileSync(go('paused'), '');
  process.kill(-commandPid, 'SIGCONT');
  process.kill(old.child.pid!, 'SIGCONT');
  const result = await old.result;
  t.equal(result.code, 70, 'the old pglock says it lost the lock');
  t.match(result.stdout.toString(), /^fenced: pglock_fence: lock id -?\d+ has a newer holder/, 'the resumed command tried its write, and the fence refused it');
  t.same(await written('paused'), [], 'nothing the paused holder wrote is visible');
  t.equal((await written('fresh')).length, 1);
  t.ok(existsSync(go('paused')));
});
