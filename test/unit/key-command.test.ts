// `pglock key` (issue 28): it prints the blocking SQL, the fail-fast pg_try_ form and the unlock;
// docs/running.md shows exactly what it prints; its `key` line escapes control characters (the
// SQL lines stay on one line too). No database: the command computes everything itself.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { PGLOCK_BIN } from '../helpers/run-pglock.js';

const pglock = (args: string[]) => execFileSync(process.execPath, [PGLOCK_BIN, ...args], { encoding: 'utf8' });

t.test('docs/running.md shows what `pglock key` prints, command by command', async (t) => {
  const guide = readFileSync(new URL('../../docs/running.md', import.meta.url), 'utf8');
  const section = guide.split('\n## `pglock key`\n')[1]!.split('\n## ')[0]!;
  const block = section.split('```console\n')[1]!.split('```')[0]!;
  const runs = block.split(/^\$ pglock key /m).slice(1);
  t.equal(runs.length, 2);
  for (const run of runs) {
    const [command, ...output] = run.split('\n');
    t.equal(pglock(['key', ...command!.split(' ')]), output.join('\n'), `pglock key ${command}`);
  }
});

t.test('the three forms: wait, try, unlock; in JSON too', async (t) => {
  const text = pglock(['key', 'gold_leader']);
  for (const fn of ['pg_advisory_lock', 'pg_try_advisory_lock', 'pg_advisory_unlock']) {
    t.match(text, `\nselect ${fn}(('x' || left(`, `${fn} by key`);
    t.match(text, `\nselect pg_catalog.${fn}(1164266746182509168::pg_catalog.int8);`, `${fn} by number`);
  }
  const json = JSON.parse(pglock(['key', 'gold_leader', '--json'])) as Record<string, string>;
  t.match(json, { sql: /^select pg_advisory_lock\(/, trySql: /^select pg_try_advisory_lock\(/, unlockSql: /^select pg_advisory_unlock\(/ });
});

t.test('a key with a newline: the key line escaped, every SQL line whole', async (t) => {
  const lines = pglock(['key', 'a\nb']).split('\n');
  t.equal(lines[0], 'key       a\\nb');
  t.equal(lines.filter((line) => line.startsWith('select ')).length, 6);
  t.ok(lines.filter((line) => line.includes("E'a\\x0ab'")).length === 3, 'the SQL by key: an E literal');
  t.equal(JSON.parse(pglock(['key', 'a\nb', '--json'])).key, 'a\nb', 'JSON keeps the key whole');
});
