// --max-runtime and --kill-signal: a hung command is stopped (the kill signal, SIGKILL after
// --kill-after), recorded as timed-out, and pglock exits 124; the kill signal also stops a command
// whose lock was lost (here, broken with pglock release). Real server, real processes.
import t from 'tap';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { runPglock, startPglock } from './helpers/run-pglock.js';

const server = await startTestServer(t);
const url = server.url;
const loop = (signal: string, then: string) => `trap 'echo got ${signal}; ${then}' ${signal}; echo started; while :; do sleep 0.1; done`;

t.test('a command that runs past --max-runtime: stopped with SIGTERM, recorded timed-out, exit 124, and check says failed', async (t) => {
  const key = uniqueKey('max-runtime');
  const started = Date.now();
  const result = await runPglock(['-d', url, '-k', key, '--record', '--max-runtime', '1s', '--', 'sh', '-c', 'echo working; sleep 30']);
  const took = Date.now() - started;
  t.equal(result.code, 124);
  t.ok(took >= 900 && took < 9000, `stopped after about 1s (${took} ms)`);
  t.equal(result.stdout.toString(), 'working\n');
  const stderr = result.stderr;
  t.match(stderr, /has run for --max-runtime 1s; stopping it \(SIGTERM, SIGKILL after 10s\)\n.*stopped by --max-runtime \(was killed by SIGTERM\); lock released; exiting 124\n$/);
  const history = JSON.parse((await runPglock(['history', '-d', url, '-k', key, '--json'])).stdout.toString()) as { runs: { outcome: string }[] };
  t.equal(history.runs[0]?.outcome, 'timed-out');
  const check = await runPglock(['check', '-d', url, '-k', key, '--max-age', '1h']);
  t.equal(check.code, 2);
  t.match(check.stdout.toString(), /timed out: stopped after .* by --max-runtime/);
});

t.test('--kill-signal INT, ignored by the command: SIGINT first, then SIGKILL after --kill-after; still 124', async (t) => {
  const started = Date.now();
  const result = await runPglock(['-d', url, '-k', uniqueKey('kill-signal'), '--max-runtime', '1s', '--kill-signal', 'INT', '--kill-after', '1s', '--', 'sh', '-c', loop('INT', 'echo ignoring')]);
  t.equal(result.code, 124);
  t.ok(Date.now() - started >= 1900, 'the command outlived the signal until SIGKILL');
  t.equal(result.stdout.toString(), 'started\ngot INT\nignoring\n', 'it got SIGINT, not SIGTERM');
  t.match(result.stderr, /stopping it \(SIGINT, SIGKILL after 1s\)[\s\S]*was killed by SIGKILL\); lock released; exiting 124/);
});

t.test('a command that ends in time is untouched: its own exit code', async (t) => {
  const result = await runPglock(['-d', url, '-k', uniqueKey('in-time'), '--max-runtime', '10s', '--', 'sh', '-c', 'sleep 0.2; exit 3']);
  t.equal(result.code, 3);
  t.equal(result.stderr, '');
});

t.test('the kill signal also stops a command whose lock was lost (broken with pglock release): exit 70', async (t) => {
  const key = uniqueKey('kill-signal-lost');
  const holder = startPglock(['-d', url, '-k', key, '-v', '--kill-signal', 'USR1', '--', 'sh', '-c', loop('USR1', 'exit 0')]);
  await holder.waitForStderr(/running sh/);
  t.equal((await runPglock(['release', '-d', url, '-k', key])).code, 0);
  const result = await holder.result;
  t.equal(result.code, 70);
  t.equal(result.stdout.toString(), 'started\ngot USR1\n');
  t.match(result.stderr, /stopping the command \(SIGUSR1, SIGKILL after 10s\)/);
});

t.test('bad input: a zero or negative --max-runtime, an unknown signal: one line, 64, nothing runs', async (t) => {
  for (const args of [['--max-runtime', '0'], ['--max-runtime', '-1s'], ['--max-runtime', 'long'], ['--kill-signal', 'FOO'], ['--kill-signal', '']]) {
    const result = await runPglock(['-d', url, '-k', 'k', ...args, '--', 'echo', 'must not run']);
    t.equal(result.code, 64, args.join(' '));
    t.equal(result.stderr.trim().split('\n').length, 1, result.stderr.trim());
    t.equal(result.stdout.length, 0);
  }
});
