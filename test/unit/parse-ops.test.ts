import t from 'tap';
import { parseArgs } from '../../src/cli/args/parse-args.js';
import { UsageError } from '../../src/errors.js';

const env = { PGHOST: 'localhost' };
const parsed = (argv: string[]) => parseArgs(argv, env);
const options = (argv: string[]): Record<string, unknown> => {
  const result = parsed(argv);
  if (!('options' in result)) throw new Error('expected options');
  return result.options as unknown as Record<string, unknown>;
};
const usage = (test: { throws: typeof t.throws }, argv: string[], pattern: RegExp) => test.throws(() => parsed(argv), pattern, argv.join(' '));

t.test('run: --history, --max-runtime, --kill-signal', async (t) => {
  t.match(options(['-k', 'k', '--', 'x']), { history: 100, maxRuntimeMs: undefined, killSignal: 'SIGTERM' });
  t.match(options(['-k', 'k', '--history', '0', '--max-runtime', '2h', '--kill-signal', 'int', '--', 'x']), { history: 0, maxRuntimeMs: 7_200_000, killSignal: 'SIGINT' });
  t.match(options(['-k', 'k', '--kill-signal', 'SIGUSR1', '--', 'x']), { killSignal: 'SIGUSR1' });
  usage(t, ['-k', 'k', '--history', '-1', '--', 'x'], /--history must be a whole number from 0/);
  usage(t, ['-k', 'k', '--max-runtime', '0', '--', 'x'], /--max-runtime must be longer than 0/);
  usage(t, ['-k', 'k', '--max-runtime', '30d', '--', 'x'], /--max-runtime takes a duration/);
  usage(t, ['-k', 'k', '--kill-signal', 'NOPE', '--', 'x'], /--kill-signal must be a signal name/);
});

t.test('check: --max-age required and above 0, a key or a lock id', async (t) => {
  t.match(parsed(['check', '-k', 'k', '--max-age', '25h']), { kind: 'check', options: { key: 'k', maxAgeMs: 90_000_000, anyExit: false, json: false } });
  t.match(options(['check', '--lock-id', '-5', '--max-age', '1d', '--any-exit', '--json']), { key: undefined, lockId: -5n, anyExit: true, json: true });
  t.match(parseArgs(['check', '--max-age', '1h'], { ...env, PGLOCK_KEY: 'from-env' }), { options: { key: 'from-env' } });
  usage(t, ['check', '-k', 'k'], /needs --max-age/);
  usage(t, ['check', '-k', 'k', '--max-age', '0s'], /--max-age must be longer than 0/);
  usage(t, ['check', '-k', 'k', '--max-age', '-1h'], /--max-age takes a duration/);
  usage(t, ['check', '--max-age', '1h'], /a lock key is required/);
  usage(t, ['check', '-k', 'k', '--lock-id', '1', '--max-age', '1h'], /not both/);
});

t.test('history, release, status --format and --output', async (t) => {
  t.match(parsed(['history', '-k', 'k']), { kind: 'history', options: { key: 'k', limit: 20, json: false } });
  t.match(options(['history', '-k', 'k', '-n', '5', '--json']), { limit: 5, json: true });
  usage(t, ['history', '-k', 'k', '-n', '0'], /--limit must be a whole number from 1/);
  t.match(parsed(['release', '-k', 'k']), { kind: 'release', options: { key: 'k', force: false } });
  t.match(options(['release', '-k', 'k', '--force', '--json']), { force: true, json: true });
  t.match(options(['status', '--format', 'prometheus']), { format: 'prometheus', json: false, output: undefined });
  t.match(options(['status', '--json']), { format: 'json', json: true });
  t.match(options(['status', '--format', 'prometheus', '-o', '/tmp/pglock-unit.prom']), { output: '/tmp/pglock-unit.prom' });
  usage(t, ['status', '--format', 'xml'], /--format must be text, json or prometheus/);
  usage(t, ['status', '--json', '--format', 'prometheus'], /not both/);
  usage(t, ['status', '-o', '/nonexistent-dir/x.prom'], /--output: cannot write \/nonexistent-dir\/x.prom: no such directory/);
  t.ok((() => { try { parsed(['status', '--format', 'xml']); } catch (error) { return error instanceof UsageError && error.exitCode === 64; } return false; })());
});

t.test('--help of each subcommand lists its options', async (t) => {
  for (const [command, flags] of [['check', ['--max-age', '--any-exit', '--json']], ['history', ['--limit']], ['release', ['--force']], ['status', ['--format', '--output']]] as const) {
    const result = parsed([command, '--help']);
    t.equal(result.kind, 'print');
    for (const flag of flags) t.match((result as { stdout: string }).stdout, flag, `${command} --help: ${flag}`);
  }
  const main = parsed(['--help']) as { stdout: string };
  for (const text of ['--history', '--max-runtime', '--kill-signal', 'check --key', 'history --key', 'release --key']) t.match(main.stdout, text);
});
