// pglock release: break a stuck lock by terminating its holder. A pglock holder stops its command
// and exits 70; a holder that is not a pglock is refused without --force; without the privilege,
// one line and 77. Against a real server, with real holders.
import postgres from 'postgres';
import t from 'tap';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { eventually, runPglock, startPglock } from './helpers/run-pglock.js';
import { lockIdForKey } from '../src/key/lock-id.js';

const server = await startTestServer(t);
const url = server.url;
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

t.test('a pglock holder: terminated, its command stopped, it exits 70; a second release finds nothing', async (t) => {
  const key = uniqueKey('release');
  const holder = startPglock(['-d', url, '-k', key, '--record', '-v', '--', 'sh', '-c', 'echo $$; exec sleep 60']);
  await holder.waitForStderr(/running sh/);
  const result = await runPglock(['release', '-d', url, '--key', key]);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout.toString(), new RegExp(`^terminated backend \\d+: pglock on .* \\(pid ${holder.child.pid}\\), held for .* \\(it stops its command and exits 70\\)\\n$`));
  const ended = await holder.result;
  t.equal(ended.code, 70, 'the old pglock exits 70');
  t.match(ended.stderr, /lost the lock .*; stopping the command/);
  const childPid = Number(ended.stdout.toString().trim());
  t.ok(childPid > 0 && !alive(childPid), 'its command is gone');
  const runs = await runPglock(['history', '-d', url, '--key', key, '--json']);
  t.match(JSON.parse(runs.stdout.toString()), { runs: [{ outcome: 'lock-lost' }] }, 'recorded as lock-lost');
  const again = await runPglock(['release', '-d', url, '--key', key, '--json']);
  t.equal(again.code, 0);
  t.same(JSON.parse(again.stdout.toString()), { version: 1, key, lockId: String(lockIdForKey(key)), terminated: [] });
});

t.test('a holder that is not a pglock: refused (65) with a line naming it; --force terminates it; --json', async (t) => {
  const key = uniqueKey('release-sql');
  const id = lockIdForKey(key);
  // A client of its own: its one connection is about to be terminated.
  const sql = postgres(url, { max: 1, connection: { application_name: 'etl-script' }, onnotice: () => undefined });
  const [{ pid }] = await sql.unsafe<[{ pid: number }]>(`select pg_advisory_lock(${id}), pg_backend_pid() as pid`);
  const refused = await runPglock(['release', '-d', url, '--key', key]);
  t.equal(refused.code, 65);
  t.equal(refused.stdout.length, 0);
  t.equal(refused.stderr.trim().split('\n').length, 1);
  t.match(refused.stderr, new RegExp(`^pglock: error: the lock '.*' is held by backend ${pid} \\(application 'etl-script'.*\\), which is not a pglock .*give --force`));
  const forced = await runPglock(['release', '-d', url, '--key', key, '--force', '--json']);
  t.equal(forced.code, 0, forced.stderr);
  t.match(JSON.parse(forced.stdout.toString()), { terminated: [{ pid, pglock: false, applicationName: 'etl-script' }] });
  await eventually(async () => (await server.admin.unsafe(`select 1 from pg_stat_activity where pid = ${pid}`)).length === 0, 5000, 'the backend gone');
  await sql.end({ timeout: 1 }).catch(() => undefined);
});

t.test('without the privilege: one line and 77; with pg_signal_backend it works', async (t) => {
  const [holderRole, releaser] = [`holder_${process.pid}`, `releaser_${process.pid}`];
  await server.admin.unsafe(`create role ${holderRole} login password 'holder-pw'; create role ${releaser} login password 'releaser-pw'`);
  t.teardown(() => server.admin.unsafe(`drop role if exists ${holderRole}; drop role if exists ${releaser}`));
  const as = (role: string, pw: string) => `postgres://${role}:${pw}@${server.host}:${server.port}/${server.database}`;
  const key = uniqueKey('release-perm');
  const holder = startPglock(['-d', as(holderRole, 'holder-pw'), '-k', key, '-v', '--', 'sleep', '60']);
  await holder.waitForStderr(/running sleep/);
  const denied = await runPglock(['release', '-d', as(releaser, 'releaser-pw'), '--key', key]);
  t.equal(denied.code, 77);
  t.equal(denied.stderr.trim().split('\n').length, 1);
  t.match(denied.stderr, new RegExp(`^pglock: error: role '${releaser}' may not terminate backend \\d+ \\(pglock on .*\\), which holds the lock .*pg_signal_backend`));
  t.notMatch(denied.stderr, /releaser-pw|holder-pw/, 'no password');
  t.match(denied.stderr, `as a superuser, run: grant pg_signal_backend to "${releaser}";`, 'the GRANT that fixes it');
  t.equal(denied.stderr.match(/backend \d+/g)?.length, 1, 'the backend named once');

  // A holder that is not a pglock, of another role, seen by a role without pg_read_all_stats: one
  // clear line, not `backend N (backend N (user …; other details hidden: …))` (issue 28).
  const otherKey = uniqueKey('release-perm-sql');
  const sql = postgres(as(holderRole, 'holder-pw'), { max: 1, connection: { application_name: 'etl-script' }, onnotice: () => undefined });
  t.teardown(() => sql.end({ timeout: 1 }).catch(() => undefined));
  const [{ pid }] = await sql.unsafe<[{ pid: number }]>(`select pg_advisory_lock(${lockIdForKey(otherKey)}), pg_backend_pid() as pid`);
  const deniedSql = await runPglock(['release', '-d', as(releaser, 'releaser-pw'), '--key', otherKey, '--force']);
  t.equal(deniedSql.code, 77, deniedSql.stderr);
  t.equal(deniedSql.stderr.trim().split('\n').length, 1);
  t.match(deniedSql.stderr, new RegExp(`^pglock: error: role '${releaser}' may not terminate backend ${pid} \\((application 'etl-script', )?user (${holderRole}|hidden)\\), which holds the lock '${otherKey}': `));
  t.equal(deniedSql.stderr.match(/backend \d+/g)?.length, 1, 'the backend named once');
  t.notMatch(deniedSql.stderr, /details hidden|pg_read_all_stats/, 'nothing about seeing other sessions');
  await sql.end({ timeout: 1 });

  await server.admin.unsafe(`grant pg_signal_backend to ${releaser}`);
  const allowed = await runPglock(['release', '-d', as(releaser, 'releaser-pw'), '--key', key]);
  t.equal(allowed.code, 0, allowed.stderr);
  t.equal((await holder.result).code, 70);
});

t.test('bad input: no key, both key and id, an unknown option: one line, 64', async (t) => {
  for (const args of [[], ['--key', 'k', '--lock-id', '1'], ['--key', 'k', '--now'], ['--lock-id', 'abc']]) {
    const result = await runPglock(['release', '-d', url, ...args]);
    t.equal(result.code, 64, args.join(' '));
    t.equal(result.stderr.trim().split('\n').length, 1, result.stderr.trim());
  }
});
