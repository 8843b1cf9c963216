// pglock check: the dead man's check of a key's last recorded run, by the database's clock, against
// a real server: every verdict and its exit code, JSON, a fleet whose one run fails, bad input.
import { hostname } from 'node:os';
import t from 'tap';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { runPglock, startPglock } from './helpers/run-pglock.js';
import { lockIdForKey } from '../src/key/lock-id.js';

const server = await startTestServer(t);
const url = server.url;
const host = hostname();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const check = (key: string, ...args: string[]) => runPglock(['check', '-d', url, '--key', key, ...args]);
const lines = (text: string | Buffer) => text.toString().trim().split('\n');

t.test('never ran (4), ok (0), failed (2), --any-exit, stale (1): one line on stdout each', async (t) => {
  const key = uniqueKey('check');
  let result = await check(key, '--max-age', '25h');
  t.equal(result.code, 4, 'never ran');
  t.match(result.stdout.toString(), /^NEVER RAN: no run of '.*' was ever recorded \(--max-age 25h; /);
  t.equal(result.stderr, '', 'nothing on stderr');

  t.equal((await runPglock(['-d', url, '-k', key, '--record', '--', 'sh', '-c', 'exit 0'])).code, 0);
  result = await check(key, '--max-age', '25h');
  t.equal(result.code, 0, 'ok');
  t.equal(lines(result.stdout).length, 1);
  t.match(result.stdout.toString(), new RegExp(`^OK: the last run of '.*' started [\\d.]+m?s ago \\(\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z\\) on ${host} \\(pid \\d+\\) and exited 0 after [\\d.]+m?s; --max-age 25h\\n$`));

  t.equal((await runPglock(['-d', url, '-k', key, '--record', '--', 'sh', '-c', 'exit 3'])).code, 3);
  result = await check(key, '--max-age', '25h');
  t.equal(result.code, 2, 'the last run failed');
  t.match(result.stdout.toString(), /^FAILED: the last run of .* and exited 3 after/);
  t.equal((await check(key, '--max-age', '25h', '--any-exit')).code, 0, '--any-exit: only the age counts');

  await sleep(1200);
  result = await check(key, '--max-age', '1s', '--any-exit');
  t.equal(result.code, 1, 'too old, by the database clock');
  t.match(result.stdout.toString(), /^STALE: .*: longer ago than --max-age 1s\n$/);
});

t.test('still running: ok within the age, 3 when it has run longer; a killed run counts as failed', async (t) => {
  const key = uniqueKey('check-running');
  const holder = startPglock(['-d', url, '-k', key, '--record', '-v', '--', 'sleep', '30']);
  await holder.waitForStderr(/running sleep/);
  let result = await check(key, '--max-age', '1h');
  t.equal(result.code, 0, 'running, started within the age');
  t.match(result.stdout.toString(), /^OK: .* and is still running; --max-age 1h/);
  await sleep(1200);
  result = await check(key, '--max-age', '1s');
  t.equal(result.code, 3, 'running longer than the age');
  t.match(result.stdout.toString(), /^OVERRUNNING: .* is still running, for longer than --max-age 1s/);
  holder.child.kill('SIGKILL'); // no end is ever written; its session closes
  await holder.result;
  await sleep(300);
  result = await check(key, '--max-age', '1h');
  t.equal(result.code, 2, 'a run whose pglock died is not a success');
  t.match(result.stdout.toString(), /^FAILED: .* never recorded its end/);
});

t.test('--json: one object with the verdict, its exit code and the run; --lock-id', async (t) => {
  const key = uniqueKey('check-json');
  await runPglock(['-d', url, '-k', key, '--record', '--', 'true']);
  const result = await runPglock(['check', '-d', url, '--lock-id', String(lockIdForKey(key)), '--max-age', '1h', '--json']);
  t.equal(result.code, 0);
  const report = JSON.parse(result.stdout.toString()) as Record<string, unknown>;
  t.match(report, { version: 1, key: null, lockId: String(lockIdForKey(key)), status: 'ok', exitCode: 0, maxAgeMs: 3_600_000, run: { key, outcome: 'exited', exitCode: 0, host } });
  const never = JSON.parse((await check(uniqueKey('none'), '--max-age', '1h', '--json')).stdout.toString()) as Record<string, unknown>;
  t.match(never, { status: 'never-ran', exitCode: 4, run: null });
});

t.test('a fleet of three hosts, -q -E 0 --min-interval: the one run fails, every host exits 0 but check says FAILED', async (t) => {
  const key = uniqueKey('check-fleet');
  const hosts = [0, 1, 2].map((i) => startPglock(['-d', url, '-k', key, '-q', '-E', '0', '--min-interval', '1m', '--', 'sh', '-c', `sleep 0.3; echo h${i}; exit 5`]));
  const results = await Promise.all(hosts.map((run) => run.result));
  const ran = results.filter((result) => result.stdout.length > 0);
  t.equal(ran.length, 1, 'exactly one host ran the job');
  t.equal(ran[0]!.code, 5, 'it failed with 5');
  t.equal(results.filter((result) => result.code === 0).length, 2, 'the others skipped quietly with 0');
  const pid = hosts[results.indexOf(ran[0]!)]!.child.pid;
  const result = await check(key, '--max-age', '25h');
  t.equal(result.code, 2, 'check fails');
  t.match(result.stdout.toString(), new RegExp(`^FAILED: the last run of '.*' started .* on ${host} \\(pid ${pid}\\) and exited 5 after`));
  t.equal((await runPglock(['-d', url, '-k', key, '--record', '--', 'true'])).code, 0, 'someone re-runs it by hand');
  t.equal((await check(key, '--max-age', '25h')).code, 0, 'and check passes again');
});

t.test('bad input: one line, 64; an unreachable database: one line, 69', async (t) => {
  for (const args of [['--key', 'k'], ['--key', 'k', '--max-age', '0'], ['--key', 'k', '--max-age', '-1h'], ['--key', 'k', '--max-age', 'soon'],
    ['--max-age', '1h'], ['--lock-id', 'x', '--max-age', '1h'], ['--key', '', '--max-age', '1h'], ['--key', 'k', '--lock-id', '1', '--max-age', '1h'], ['--key', 'k', '--max-age', '1h', '--nope']]) {
    const result = await runPglock(['check', '-d', url, ...args]);
    t.equal(result.code, 64, args.join(' '));
    t.equal(lines(result.stderr).length, 1, `one line: ${result.stderr.trim()}`);
    t.notMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
  const result = await runPglock(['check', '-d', 'postgres://u:hunter2secret@127.0.0.1:1/x', '--connect-timeout', '500ms', '--key', 'k', '--max-age', '1h']);
  t.equal(result.code, 69);
  t.equal(lines(result.stderr).length, 1, result.stderr.trim());
  t.notMatch(result.stderr, /hunter2secret/, 'no password');
  t.equal(result.stdout.length, 0);
});
