import t from 'tap';
import { parseArgs, requestedLogFormat } from '../../src/cli/args/parse-args.js';
import type { RunOptions } from '../../src/cli/args/options.js';

const env = { PGHOST: 'localhost' };
const parse = (argv: string[], extraEnv: Record<string, string> = {}): RunOptions => {
  const result = parseArgs(argv, { ...env, ...extraEnv });
  if (result.kind !== 'run') throw new Error('expected a run');
  return result.options;
};

t.test('defaults: fail fast, exit 75 on conflict, 10s connect, 5s heartbeat, 10s kill-after', async (t) => {
  const options = parse(['--key', 'gold_leader', '--', 'node', 'job.js', '--flag']);
  t.match(options, {
    key: 'gold_leader', lockId: 1164266746182509168n, wait: false, timeoutMs: undefined, conflictExitCode: 75,
    connectTimeoutMs: 10_000, heartbeatMs: 5000, killAfterMs: 10_000, verbosity: 'normal',
    command: { file: 'node', args: ['job.js', '--flag'], shell: false },
  });
});

t.test('every flag', async (t) => {
  const options = parse(['-k', 'k', '-d', 'postgres://u@h/d', '-t', '1m', '-E', '9', '--connect-timeout', '2s',
    '--heartbeat', '1s', '--kill-after', '500ms', '-v', '-c', 'echo hi']);
  t.match(options, {
    wait: true, timeoutMs: 60_000, conflictExitCode: 9, connectTimeoutMs: 2000, heartbeatMs: 1000, killAfterMs: 500,
    verbosity: 'verbose', command: { file: '/bin/sh', args: ['-c', 'echo hi'], shell: true },
    connection: { host: 'h', user: 'u', database: 'd' },
  });
  t.equal(parse(['-k', 'k', '-w', '--', 'x']).wait, true);
  t.equal(parse(['-k', 'k', '-q', '--', 'x']).verbosity, 'quiet');
  t.equal(parse(['--lock-id', '-42', '--', 'x']).lockId, -42n);
  t.equal(parse(['--lock-id', '7', '--', 'x'], { PGLOCK_KEY: 'env' }).key, undefined, '--lock-id wins over PGLOCK_KEY');
  t.equal(parse(['--', 'x'], { PGLOCK_KEY: 'from-env' }).key, 'from-env');
});

t.test('options after the command belong to the command', async (t) => {
  t.same(parse(['-k', 'k', 'rsync', '-a', '--key', 'x']).command.args, ['-a', '--key', 'x']);
  t.same(parse(['-k', 'k', '--', '-weird-name']).command.file, '-weird-name');
  t.same(parse(['-k', 'k', '--', 'status']).command.file, 'status', 'a child named status is a child');
});

t.test('usage errors: one message each, exit code 64', async (t) => {
  const bad: [string[], RegExp][] = [
    [['--', 'x'], /lock key is required/],
    [['-k', '', '--', 'x'], /must not be empty/],
    [['-k', 'k'], /command is required/],
    [['-k', 'k', '-c', ''], /must not be empty/],
    [['-k', 'k', '-c', 'x', '--', 'y'], /not both/],
    [['-k', 'k', '--lock-id', '1', '--', 'x'], /not both/],
    [['--lock-id', 'abc', '--', 'x'], /--lock-id/],
    [['-k', 'k', '-t', 'soon', '--', 'x'], /--timeout.*soon/],
    [['-k', 'k', '--connect-timeout', '-1', '--', 'x'], /--connect-timeout/],
    [['-k', 'k', '-E', '256', '--', 'x'], /0 to 255/],
    [['-k', 'k', '-E', 'x', '--', 'x'], /0 to 255/],
    [['-k', 'k', '--bogus', '--', 'x'], /unknown option '--bogus'/],
    [['-k'], /argument missing/],
    [['-k', 'k', '-v', '-q', '--', 'x'], /together/],
    [['-k', 'k', '-d', 'http://h/d', '--', 'x'], /postgres:\/\//],
    [['-k', 'k', '-n', '2', '-s', '--', 'x'], /--limit and --shared/],
    [['-k', 'k', '--limit', '0', '--', 'x'], /1 to 1000/],
    [['-k', 'k', '--limit', '1001', '--', 'x'], /1 to 1000/],
    [['-k', 'k', '--log-format', 'xml', '--', 'x'], /text or json/],
    [['key'], /missing required argument/],
    [['key', 'a', 'b'], /too many arguments/],
    [['status', '--bogus'], /unknown option '--bogus'/],
  ];
  for (const [argv, message] of bad) {
    t.throws(() => parseArgs(argv, env), { name: 'UsageError', exitCode: 64, message }, argv.join(' '));
  }
});

t.test('POSIX forms: clusters, attached and inline values, values that start with a dash', async (t) => {
  t.match(parse(['-wqkname', '--', 'x']), { key: 'name', wait: true, verbosity: 'quiet' }, '-wqkname is -w -q -k name');
  t.match(parse(['--key=a=b', '--timeout=2s', 'x']), { key: 'a=b', timeoutMs: 2000, wait: true });
  t.equal(parse(['-k', '-dash-', '--', 'x']).key, '-dash-', 'a value may start with a dash');
  t.equal(parse(['-k', 'a', '-k', 'b', '--', 'x']).key, 'b', 'the last of a repeated flag wins');
  t.same(parse(['-k', 'k', '--', '--', 'y']).command, { file: '--', args: ['y'], shell: false }, 'only the first -- ends the options');
  t.throws(() => parseArgs(['-k', 'k', '--wait=yes', '--', 'x'], env), { exitCode: 64, message: /'-w, --wait' takes no value/ });
  t.throws(() => parseArgs(['-k', 'k', '-x', '--', 'x'], env), { exitCode: 64, message: /unknown option '-x' \(see pglock --help\)/ });
  t.throws(() => parseArgs(['status', 'extra'], env), { exitCode: 64, message: /too many arguments.*see pglock status --help/ });
  const key = parseArgs(['key', '--json', '--', '-k'], env);
  t.ok(key.kind === 'key' && key.options.key === '-k' && key.options.json, 'key: a name after -- may look like an option');
});

t.test('help and version: text to print (on stdout, then exit 0), nothing else runs', async (t) => {
  const printed = (argv: string[]): string => {
    const result = parseArgs(argv, env);
    if (result.kind !== 'print') throw new Error(`expected text to print, got ${result.kind}`);
    return result.stdout;
  };
  const written = [printed(['-k', 'k', '--help', '--', 'x']), printed(['-V']), printed(['status', '-h'])];
  t.match(written[0], /^Usage: pglock \[options\] -- <command> \[args\.\.\.\]\n/);
  t.match(written[0], /\n {2}-E, --conflict-exit-code <n> +exit code when the lock is not acquired\n +\(default: 75\)\n/);
  t.match(written[1], /^\d+\.\d+\.\d+\n$/);
  t.match(written[2], /^Usage: pglock status \[options\]\n/);
  for (const text of written) t.ok(text.split('\n').every((line) => line.length <= 80), 'help lines fit 80 columns');
});

t.test('subcommands only as the first argument; the new flags reach the options', async (t) => {
  const run = parseArgs(['-k', 'k', '--', 'status'], env);
  t.equal(run.kind, 'run', '`-k k -- status` runs a command named status');
  if (run.kind === 'run') {
    t.same(run.options.command, { file: 'status', args: [], shell: false });
    t.equal(run.options.shared, false);
    t.equal(run.options.limit, undefined);
    t.equal(run.options.fencingToken, false);
    t.equal(run.options.logFormat, 'text');
  }
  const shaped = parseArgs(['-k', 'k', '-n', '3', '--fencing-token', '--log-format', 'json', '--', 'x'], env);
  t.ok(shaped.kind === 'run' && shaped.options.limit === 3 && shaped.options.fencingToken && shaped.options.logFormat === 'json');
  const status = parseArgs(['status', '--key', 'k', '--json'], env);
  t.ok(status.kind === 'status' && status.options.key === 'k' && status.options.json);
  const key = parseArgs(['key', 'k', '--limit', '2'], env);
  t.ok(key.kind === 'key' && key.options.key === 'k' && key.options.limit === 2);
  t.equal(requestedLogFormat(['--log-format', 'json', '-k', 'k', '--', 'x', '--log-format', 'text']), 'json', 'only options before -- count');
  t.equal(requestedLogFormat(['--log-format=json']), 'json');
  t.equal(requestedLogFormat(['-k', 'k']), 'text');
});
