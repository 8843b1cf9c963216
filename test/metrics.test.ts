// pglock status --format prometheus: the text exposition format, checked value by value and by
// promtool when it is installed; --output writes it atomically; the operating guide's alert rule is valid.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { runPglock, startPglock } from './helpers/run-pglock.js';
import { lockIdForKey } from '../src/key/lock-id.js';

const server = await startTestServer(t);
const url = server.url;
const promtool = spawnSync('promtool', ['--version']).status === 0;
const noPromtool = promtool ? false : 'promtool is not installed (Debian: apt-get install prometheus)';

function sample(text: string, name: string, key: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{key="${key}",lock_id="${lockIdForKey(key)}"} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

t.test('per key: the last run, its success, the last success, holders and waiters now', async (t) => {
  const [ok, failed, busy] = [uniqueKey('m-ok'), uniqueKey('m-failed'), uniqueKey('m-busy')];
  const before = Date.now() / 1000;
  await runPglock(['-d', url, '-k', ok, '--record', '--', 'sh', '-c', 'sleep 0.2']);
  await runPglock(['-d', url, '-k', failed, '--record', '--', 'true']);
  await runPglock(['-d', url, '-k', failed, '--record', '--', 'sh', '-c', 'exit 3']);
  const holder = startPglock(['-d', url, '-k', busy, '--record', '-v', '--', 'sleep', '30']);
  await holder.waitForStderr(/running sleep/);
  const waiter = startPglock(['-d', url, '-k', busy, '--wait', '--', 'true']);
  await new Promise((resolve) => setTimeout(resolve, 800));
  const result = await runPglock(['status', '-d', url, '--format', 'prometheus']);
  t.equal(result.code, 0, result.stderr);
  const text = result.stdout.toString();
  t.match(text, /^# HELP pglock_last_run_start_timestamp_seconds .*\n# TYPE pglock_last_run_start_timestamp_seconds gauge\n/);
  t.ok(sample(text, 'pglock_last_run_start_timestamp_seconds', ok)! >= before - 5, 'start as Unix seconds');
  t.ok(sample(text, 'pglock_last_run_duration_seconds', ok)! >= 0.15, 'duration in seconds');
  t.equal(sample(text, 'pglock_last_run_exit_code', ok), 0);
  t.equal(sample(text, 'pglock_last_run_success', ok), 1);
  t.equal(sample(text, 'pglock_last_run_exit_code', failed), 3);
  t.equal(sample(text, 'pglock_last_run_success', failed), 0);
  t.ok(sample(text, 'pglock_last_success_timestamp_seconds', failed)! < sample(text, 'pglock_last_run_end_timestamp_seconds', failed)!, 'the last success is the run before');
  t.equal(sample(text, 'pglock_last_run_running', busy), 1);
  t.equal(sample(text, 'pglock_last_run_success', busy), undefined, 'no success flag while it runs');
  t.equal(sample(text, 'pglock_holders', busy), 1);
  t.equal(sample(text, 'pglock_waiters', busy), 1);
  t.equal(sample(text, 'pglock_holders', ok), 0);
  holder.child.kill('SIGTERM');
  await Promise.all([holder.result, waiter.result]);
});

t.test('promtool check metrics accepts it, odd keys included', { skip: noPromtool }, async (t) => {
  await runPglock(['-d', url, '-k', `${uniqueKey('odd')} "quoted" back\\slash`, '--record', '--', 'true']);
  const result = await runPglock(['status', '-d', url, '--format', 'prometheus']);
  const check = spawnSync('promtool', ['check', 'metrics'], { input: result.stdout });
  t.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  t.equal(`${check.stdout}${check.stderr}`.trim(), '', 'no lint findings');
});

t.test('--output FILE: written atomically (no temporary file left); a file that cannot be written: one line, 64', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pglock-metrics-'));
  const file = join(dir, 'pglock.prom');
  writeFileSync(file, 'old\n');
  const result = await runPglock(['status', '-d', url, '--format', 'prometheus', '--output', file]);
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stdout.length, 0, 'nothing on stdout');
  t.match(readFileSync(file, 'utf8'), /^# HELP pglock_/);
  t.same(readdirSync(dir), ['pglock.prom'], 'only the file');
  mkdirSync(join(dir, 'a-directory'));
  const readOnly = join(dir, 'read-only');
  mkdirSync(readOnly);
  chmodSync(readOnly, 0o500);
  const cases = [join(dir, 'missing', 'x.prom'), join(dir, 'a-directory')];
  if (process.getuid?.() !== 0) cases.push(join(readOnly, 'x.prom')); // root may write anywhere
  for (const target of cases) {
    const bad = await runPglock(['status', '-d', url, '--format', 'prometheus', '-o', target]);
    t.equal(bad.code, 64, target);
    t.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr.trim());
    t.match(bad.stderr, /^pglock: error: --output: cannot write /);
  }
  const format = await runPglock(['status', '-d', url, '--format', 'yaml']);
  t.equal(format.code, 64);
});

t.test("the operating guide's alert rule passes promtool check rules", { skip: noPromtool }, async (t) => {
  const guide = readFileSync(new URL('../docs/operating.md', import.meta.url), 'utf8');
  const rules = /```yaml\n(groups:[\s\S]*?)```/.exec(guide)?.[1];
  if (rules === undefined) throw new Error("docs/operating.md's alert rule (a yaml block starting with groups:) is missing");
  t.match(rules, /nightly-report/);
  const file = join(mkdtempSync(join(tmpdir(), 'pglock-rules-')), 'rules.yml');
  writeFileSync(file, rules);
  const check = spawnSync('promtool', ['check', 'rules', file]);
  t.equal(check.status, 0, `${check.stdout}${check.stderr}`);
});
