// The run history: the last --history runs per key, pruned in the statement that records a run;
// `pglock history`; the library's listRuns({ history }); and the upgrade of a run table of before
// the history (one row per lock id), in place and with its rows, against a real server.
import t from 'tap';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { runPglock } from './helpers/run-pglock.js';
import { lockIdForKey } from '../src/key/lock-id.js';
import { listRuns } from '../src/index.js';
import type { RunEntry } from '../src/cli/report/status-entry.js';

const server = await startTestServer(t, { own: true });
const url = server.url;
const rows = async (key: string) => (await server.admin.unsafe<{ n: string }[]>(`select count(*)::text as n from public.pglock_runs where lock_id = ${lockIdForKey(key)}`))[0]!.n;
const history = async (key: string, ...args: string[]): Promise<RunEntry[]> => {
  const result = await runPglock(['history', '-d', url, '--key', key, '--json', ...args]);
  if (result.code !== 0) throw new Error(`pglock history exited ${result.code}: ${result.stderr}`);
  return (JSON.parse(result.stdout.toString()) as { runs: RunEntry[] }).runs;
};

// Today's table before this change, as pglock 0.1 created it (README showed this statement).
const OLD_TABLE = `create table public.pglock_runs (
  lock_id bigint primary key, key text, fencing_token bigint not null, started_at timestamptz not null,
  ended_at timestamptz, host text, pid integer, outcome text not null, exit_code integer, signal text)`;

t.test('an old table (one row per lock id) with rows in it is migrated in place on the next run, keeping them', async (t) => {
  const [a, b] = [uniqueKey('old-a'), uniqueKey('old-b')];
  await server.admin.unsafe(OLD_TABLE);
  await server.admin.unsafe(`insert into public.pglock_runs values
    (${lockIdForKey(a)}, '${a}', 4294967301, now() - interval '2 hours', now() - interval '2 hours' + interval '3 seconds', 'old-host', 11, 'exited', 0, null),
    (${lockIdForKey(b)}, '${b}', 4294967297, now() - interval '1 day', null, 'old-host', 12, 'signaled', null, 'SIGKILL')`);
  t.equal((await runPglock(['-d', url, '-k', a, '--record', '--', 'true'])).code, 0, 'a run against the old table');
  const runs = await history(a);
  t.equal(runs.length, 2, 'the old row is kept and the new run added');
  t.match(runs[0], { key: a, fencingToken: '4294967302', outcome: 'exited', exitCode: 0 }, 'the new run has the next token');
  t.match(runs[1], { key: a, fencingToken: '4294967301', host: 'old-host', pglockPid: 11, outcome: 'exited', exitCode: 0 });
  t.match(await history(b), [{ key: b, fencingToken: '4294967297', host: 'old-host', outcome: 'signaled', signal: 'SIGKILL' }], 'other keys keep theirs');
  const [pk] = await server.admin.unsafe<{ def: string }[]>(
    "select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'public.pglock_runs'::regclass and contype = 'p'");
  t.equal(pk?.def, 'PRIMARY KEY (lock_id, fencing_token)', 'the primary key is the history\'s');
  t.equal((await runPglock(['check', '-d', url, '-k', b, '--max-age', '2d'])).code, 2, 'check reads the migrated rows');
});

t.test('--history n keeps the last n runs, pruned as each run is recorded; 0 keeps only the last', async (t) => {
  const key = uniqueKey('prune');
  for (let i = 0; i < 5; i++) t.equal((await runPglock(['-d', url, '-k', key, '--record', '--', 'sh', '-c', `exit ${i}`])).code, i);
  t.equal(await rows(key), '5', 'the default keeps them all (up to 100)');
  t.equal((await runPglock(['-d', url, '-k', key, '--record', '--history', '3', '--', 'sh', '-c', 'exit 5'])).code, 5);
  t.equal(await rows(key), '3');
  t.same((await history(key)).map((run) => run.exitCode), [5, 4, 3], 'newest first, the oldest pruned');
  const tokens = (await history(key)).map((run) => BigInt(run.fencingToken));
  t.ok(tokens[0]! > tokens[1]! && tokens[1]! > tokens[2]!, 'fencing tokens fall from newest to oldest');
  t.equal((await runPglock(['-d', url, '-k', key, '--fencing-token', '--history', '0', '--', 'true'])).code, 0);
  t.equal(await rows(key), '1', '--history 0: only the last run');
  t.ok(BigInt((await history(key))[0]!.fencingToken) > tokens[0]!, 'and its token is still above every earlier one');
});

t.test('pglock history: a table newest first, --limit, JSON; a key with no runs', async (t) => {
  const key = uniqueKey('history');
  for (const code of [0, 3, 0]) await runPglock(['-d', url, '-k', key, '--record', '--', 'sh', '-c', `exit ${code}`]);
  const text = await runPglock(['history', '-d', url, '--key', key]);
  t.equal(text.code, 0);
  const lines = text.stdout.toString().trim().split('\n');
  t.match(lines[0], /^STARTED\s+ENDED\s+DURATION\s+HOST\s+PID\s+OUTCOME\s+EXIT\s+FENCING TOKEN$/);
  t.equal(lines.length, 4, 'a header and three runs');
  t.match(lines[2], /^\d{4}-\d\d-\d\dT[\d:]+Z \(\d+(\.\d+)?m?s ago\)\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+\d+m?s\s+\S+\s+\d+\s+exited\s+3\s+\d+$/);
  t.equal((await history(key, '--limit', '2')).length, 2);
  const none = await runPglock(['history', '-d', url, '--key', uniqueKey('none')]);
  t.equal(none.code, 0);
  t.match(none.stdout.toString(), /^no recorded run of '.*'/);
  t.same(await history(uniqueKey('none')), []);
});

t.test('concurrent --limit holders each record their own run (same next token: one retries)', async (t) => {
  const key = uniqueKey('limit-history');
  const results = await Promise.all(Array.from({ length: 6 }, () => runPglock(['-d', url, '-k', key, '--limit', '6', '--record', '--', 'sleep', '0.2'])));
  t.same(results.map((result) => result.code), [0, 0, 0, 0, 0, 0], results.map((result) => result.stderr).join(''));
  const runs = await history(key);
  t.equal(runs.length, 6);
  t.equal(new Set(runs.map((run) => run.fencingToken)).size, 6, 'six distinct tokens');
});

t.test('library: listRuns gives the last run per key, or with history every kept run', async (t) => {
  const key = uniqueKey('lib-history');
  for (let i = 0; i < 3; i++) await runPglock(['-d', url, '-k', key, '--record', '--', 'true']);
  const ids = [lockIdForKey(key)];
  t.equal((await listRuns(server.admin, { ids })).length, 1);
  t.equal((await listRuns(server.admin, { ids, history: true })).length, 3);
  t.equal((await listRuns(server.admin, { ids, history: true, limit: 2 })).length, 2);
});

t.test('bad input: a history of -1 or not a number, a --limit of 0: one line, 64', async (t) => {
  for (const args of [['-d', url, '-k', 'k', '--history', '-1', '--', 'true'], ['-d', url, '-k', 'k', '--history', 'lots', '--', 'true'],
    ['history', '-d', url, '-k', 'k', '-n', '0'], ['history', '-d', url]]) {
    const result = await runPglock(args);
    t.equal(result.code, 64, args.join(' '));
    t.equal(result.stderr.trim().split('\n').length, 1, result.stderr.trim());
    t.equal(result.stdout.length, 0);
  }
});

t.test('an old table that this role may not alter: exit 69, one line with the statement for its owner, the command not run', async (t) => {
  const database = `old_schema_${process.pid}`;
  const role = `old_writer_${process.pid}`;
  await server.admin.unsafe(`create database ${database}`);
  await server.admin.unsafe(`create role ${role} login password 'writer-pw'`);
  t.teardown(async () => {
    await server.admin.unsafe(`drop database if exists ${database} with (force)`);
    await server.admin.unsafe(`drop role if exists ${role}`);
  });
  const admin = `postgres://${server.user}:${encodeURIComponent(server.password)}@${server.host}:${server.port}/${database}`;
  const key = uniqueKey('old-denied');
  const setup = (await import('postgres')).default(admin, { max: 1, onnotice: () => undefined });
  await setup.unsafe(OLD_TABLE);
  await setup.unsafe(`insert into public.pglock_runs values (${lockIdForKey(key)}, '${key}', 4294967297, now(), now(), 'old-host', 1, 'exited', 0, null)`);
  await setup.unsafe(`grant select, insert, update, delete on public.pglock_runs to ${role}`);
  await setup.end();
  const result = await runPglock(['-d', `postgres://${role}:writer-pw@${server.host}:${server.port}/${database}`, '-k', key, '--record', '--', 'echo', 'must not run']);
  t.equal(result.code, 69);
  t.equal(result.stdout.length, 0, 'the command did not run');
  t.equal(result.stderr.trim().split('\n').length, 1, result.stderr.trim());
  t.match(result.stderr, /is from before the run history and this role may not migrate it .*have its owner run: alter table public\.pglock_runs drop constraint pglock_runs_pkey, add primary key \(lock_id, fencing_token\)/);
  t.notMatch(result.stderr, /writer-pw/);
});
