// `pglock completion bash|zsh|fish`: each script is accepted by its shell and completes what the
// program specs hold (every option of every program, the subcommands, the choices). A shell that
// is not installed is skipped, saying so (.ci/run installs fish and zsh where it can).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { completionScript } from '../../src/cli/completion/completion-script.js';
import { listPrograms, parseArgs } from '../../src/cli/args/parse-args.js';
import { PGLOCK_BIN } from '../helpers/run-pglock.js';

const dir = mkdtempSync(join(tmpdir(), 'pglock-completion-'));
const scriptFile = (shell: 'bash' | 'zsh' | 'fish') => {
  const file = join(dir, `pglock.${shell}`);
  writeFileSync(file, completionScript(shell));
  return file;
};
const has = (shell: string) => spawnSync(shell, ['-c', 'exit 0']).status === 0;
const { run, subcommands } = listPrograms();
// Each program: the words before its options, its long flags, its flags' choices.
const programs = [{ words: [], spec: run }, ...subcommands.map(({ name, spec }) => ({ words: [name], spec }))];

t.test('the subcommand: a script on stdout, exit 0; an unknown shell is one line on stderr and exit 64', async (t) => {
  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    const result = spawnSync(process.execPath, [PGLOCK_BIN, 'completion', shell], { encoding: 'utf8' });
    t.same([result.status, result.stderr], [0, ''], shell);
    t.equal(result.stdout, completionScript(shell), `${shell}: the built CLI prints what the specs make`);
  }
  const bad = spawnSync(process.execPath, [PGLOCK_BIN, 'completion', 'tcsh'], { encoding: 'utf8' });
  t.equal(bad.status, 64);
  t.equal(bad.stdout, '');
  t.match(bad.stderr, /^pglock: error: unknown shell 'tcsh': pglock completion takes bash, zsh, fish\n$/);
  t.throws(() => parseArgs(['completion'], {}), { exitCode: 64, message: /missing required argument 'shell'/ });
  const child = parseArgs(['-k', 'k', '--', 'completion', 'bash'], {});
  t.ok(child.kind === 'run' && child.options.command.file === 'completion', '`pglock -k k -- completion` runs a command named completion');
});

t.test('bash: accepted, and completes options, subcommands and choices', { skip: has('bash') ? false : 'bash is not installed' }, async (t) => {
  const file = scriptFile('bash');
  t.equal(spawnSync('bash', ['-n', file]).status, 0, 'bash -n accepts it');
  const complete = (...words: string[]): string[] => {
    const line = `source ${file}; COMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _pglock; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const result = spawnSync('bash', ['-c', line], { encoding: 'utf8' });
    t.equal(result.stderr, '', `no errors: ${words.join(' ')}`);
    return result.stdout.split('\n').filter(Boolean);
  };
  t.ok(complete('pglock', '--ke').includes('--key'), 'pglock --ke → --key');
  for (const { words, spec } of programs) {
    const offered = complete('pglock', ...words, '-');
    for (const flag of spec.flags) {
      t.ok(offered.includes(`--${flag.name}`), `${spec.name} -<Tab> offers --${flag.name}`);
      if (flag.short) t.ok(offered.includes(`-${flag.short}`), `${spec.name} -<Tab> offers -${flag.short}`);
      if (flag.choices) t.same(complete('pglock', ...words, `--${flag.name}`, ''), flag.choices, `${spec.name} --${flag.name} <Tab> offers its choices`);
    }
  }
  t.same(complete('pglock', '--log-format', '=', 'j'), ['json'], '--log-format=j, as bash splits it');
  t.same(complete('pglock', 'status', '--log-format=t'), ['--log-format=text'], '--log-format=t in one word');
  t.same(complete('pglock', 'completion', ''), ['bash', 'zsh', 'fish'], 'completion <Tab>: the shells');
  const first = complete('pglock', '');
  t.ok(subcommands.every(({ name }) => first.includes(name)), 'pglock <Tab> offers every subcommand');
  t.same(complete('pglock', '-k', 'k', '--', 'status', '--j'), [], 'after --, status is a command: its options are not pglock status\'s');
  t.notOk(complete('pglock', '-k', 'k', '--', 'ech').includes('status'), 'after --, commands and no subcommands');
  t.ok(complete('pglock', '-k', 'k', '--', 'ech').includes('echo'), 'after --, commands');
});

const bashCompletion = '/usr/share/bash-completion/bash_completion';
t.test('bash with bash-completion: the command after -- is completed as that command', { skip: existsSync(bashCompletion) ? false : `no ${bashCompletion} (apt-get install bash-completion)` }, async (t) => {
  const file = scriptFile('bash');
  const line = 'pglock -k k -- ls --al';
  // compopt complains outside a real completion; that is the test's doing, not the script's.
  const result = spawnSync('bash', ['-c', `source ${bashCompletion}; source ${file}; COMP_LINE='${line}'; COMP_POINT=${line.length}; COMP_WORDS=(${line}); COMP_CWORD=5; _pglock 2>/dev/null; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  t.ok(result.stdout.split('\n').includes('--all'), `${line} → --all (ls's own option): ${result.stdout.trim()}`);
});

t.test('fish: accepted, and completes options, subcommands and choices', { skip: has('fish') ? false : 'fish is not installed (apt-get install fish)' }, async (t) => {
  const file = scriptFile('fish');
  t.equal(spawnSync('fish', ['-n', file]).status, 0, 'fish -n accepts it');
  const complete = (line: string): string[] => {
    const result = spawnSync('fish', ['--no-config', '-c', `source ${file}; complete -C ${JSON.stringify(line)}`], { encoding: 'utf8' });
    t.equal(result.stderr, '', `no errors: ${line}`);
    return result.stdout.split('\n').filter(Boolean).map((row) => row.split('\t')[0] ?? '');
  };
  t.ok(complete('pglock --ke').includes('--key'), "complete -C 'pglock --ke' → --key");
  for (const { words, spec } of programs) {
    const offered = complete(['pglock', ...words, '--'].join(' '));
    for (const flag of spec.flags) {
      t.ok(offered.includes(`--${flag.name}`), `${spec.name} --<Tab> offers --${flag.name}`);
      if (flag.choices) t.same(complete(['pglock', ...words, `--${flag.name}`, ''].join(' ')).sort(), [...flag.choices].sort(), `${spec.name} --${flag.name} <Tab> offers its choices`);
    }
  }
  t.same(complete('pglock completion ').sort(), ['bash', 'fish', 'zsh'], 'completion <Tab>: the shells');
  const first = complete('pglock ');
  t.ok(subcommands.every(({ name }) => first.includes(name)), 'pglock <Tab> offers every subcommand');
  t.notOk(complete('pglock -k k -- status --').includes('--json'), 'after --, status is a command: its options are not pglock status\'s');
  for (const line of ['pglock -k k -- ech', 'pglock -k k ech']) {
    const offered = complete(line);
    t.ok(offered.includes('echo') && !offered.includes('status'), `${line}: commands, and no subcommands`);
  }
  t.notOk(complete('pglock -k k -- ls -').includes('--key'), "after the command's name, no pglock options");
});

t.test('zsh: accepted', { skip: has('zsh') ? false : 'zsh is not installed (apt-get install zsh)' }, async (t) => {
  const file = scriptFile('zsh');
  const checked = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
  t.same([checked.status, checked.stderr], [0, ''], 'zsh -n accepts it');
  // Loaded the way compinit loads it, it registers and runs without an error.
  const loaded = spawnSync('zsh', ['-f', '-c', `autoload -U compinit && compinit -u -D && source ${file} && print -r -- $_comps[pglock]`], { encoding: 'utf8' });
  t.same([loaded.status, loaded.stdout.trim(), loaded.stderr], [0, '_pglock', ''], 'sourced after compinit, it registers _pglock for pglock');
});
