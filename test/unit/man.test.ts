// pglock(1) and README hold every option, subcommand and exit code the specs define: the page is
// generated from them (scripts/man.js, at build time), README's tables are written by hand and
// checked here. groff checks that the page renders without a warning (skipped without groff).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { listPrograms, parseArgs } from '../../src/cli/args/parse-args.js';
import { SEE_ALSO } from '../../src/cli/args/see-also.js';
import { ExitCode, SIGNAL_EXIT_BASE } from '../../src/exit-codes.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pageFile = join(root, 'man', 'pglock.1');
const page = existsSync(pageFile) ? readFileSync(pageFile, 'utf8') : '';
const { run, subcommands } = listPrograms();
const programs = [{ words: [] as string[], name: run.name, spec: run }, ...subcommands.map(({ name, spec }) => ({ words: [name], name: spec.name, spec }))];

const help = (words: string[]): string => {
  const result = parseArgs([...words, '--help'], {});
  if (result.kind !== 'print') throw new Error(`expected help, got ${result.kind}`);
  return result.stdout;
};
// The options a --help lists: `-k, --key <name>` → ['-k', '--key'].
const helpOptions = (text: string): string[] =>
  text.split('\n\n').find((part) => part.startsWith('Options:'))?.split('\n').slice(1)
    .flatMap((line) => /^ {2}((?:-\w, )?--[\w-]+)/.exec(line)?.[1]?.split(', ') ?? []) ?? [];
// A part of the page: from a heading line to the next heading of that level or above.
const pagePart = (heading: string): string => {
  const start = page.indexOf(`\n${heading}\n`);
  if (start < 0) return '';
  const rest = page.slice(start + heading.length + 2);
  const end = rest.search(heading.startsWith('.SS') ? /^\.S[SH] /m : /^\.SH /m);
  return end < 0 ? rest : rest.slice(0, end);
};
const roff = (option: string) => `\\fB${option.replace(/-/g, '\\-')}\\fR`;

t.test('the page is built, and current', async (t) => {
  t.ok(page.startsWith('.\\"') && page.includes('\n.TH PGLOCK 1 '), `${pageFile} exists (npm run build writes it)`);
  const made = spawnSync(process.execPath, [join(root, 'scripts', 'man.js'), '--stdout'], { encoding: 'utf8' });
  t.equal(made.status, 0, made.stderr);
  t.equal(made.stdout, page, 'scripts/man.js makes the same page from dist/ (else: npm run build)');
  for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'SUBCOMMANDS', 'EXIT STATUS', 'ENVIRONMENT', 'FILES', 'EXAMPLES', 'SEE ALSO']) {
    t.ok(page.includes(`\n.SH ${section}\n`), `.SH ${section}`);
  }
});

t.test('package.json ships the page, so that npm install -g links it into share/man/man1', async (t) => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { man?: unknown; files?: string[] };
  // An array: npm 11 links no man page for a plain string.
  t.same(pkg.man, ['./man/pglock.1']);
  t.ok(pkg.files?.includes('man/pglock.1'), 'in "files"');
});

t.test('every option in every --help is in the page, in its program\'s section', async (t) => {
  for (const { words, name } of programs) {
    const part = words.length === 0 ? pagePart('.SH OPTIONS') : pagePart(`.SS ${words[0]}`);
    t.ok(part !== '', `${name} has its section`);
    const options = helpOptions(help(words));
    t.ok(options.length > 0, `${name} --help lists options`);
    for (const option of options) t.ok(part.includes(roff(option)), `${name}: ${option}`);
  }
});

t.test('every subcommand in --help is in the page: SYNOPSIS and SUBCOMMANDS', async (t) => {
  const listed = help([]).split('\n\n').find((part) => part.startsWith('Subcommands'))?.split('\n').slice(1)
    .filter((line) => /^ {2}\S/.test(line)).map((line) => line.trim().split(' ')[0]) ?? [];
  t.same(listed, subcommands.map(({ name }) => name), 'pglock --help lists the subcommands');
  for (const name of listed) {
    t.ok(pagePart('.SH SYNOPSIS').includes(`\\fBpglock\\fR \\fB${name}\\fR`), `SYNOPSIS: pglock ${name}`);
    t.ok(pagePart(`.SS ${name}`) !== '', `SUBCOMMANDS: ${name}`);
  }
  // A subcommand dispatched outside the table would be missing from all of this: its usage line in
  // pglock --help would name it, though.
  const named = run.usage.split('\n').map((line) => /^\s*pglock ([a-z][\w-]*)\b/.exec(line)?.[1]).filter((word): word is string => word !== undefined);
  t.same(named, subcommands.map(({ name }) => name), 'the subcommands pglock\'s usage names are those of the subcommand table');
});

t.test('every help ends with where the manual and the guides are', async (t) => {
  for (const { words, name } of programs) {
    t.ok(help(words).endsWith(`\n\n${SEE_ALSO}\n`), name);
    t.ok(help(words).split('\n').every((line) => line.length <= 80), `${name}: help lines fit 80 columns`);
  }
  t.match(SEE_ALSO, /man pglock/);
});

t.test('EXIT STATUS: every code, the signal rule and -E', async (t) => {
  const part = pagePart('.SH EXIT STATUS');
  for (const [name, code] of Object.entries(ExitCode)) t.ok(part.includes(`\n.TP\n.B ${code}\n`), `${code} (${name})`);
  t.ok(part.includes(`${SIGNAL_EXIT_BASE}+\\fIN\\fR`), `${SIGNAL_EXIT_BASE}+N`);
  t.ok(part.includes('\\fB\\-E\\fR'), '-E');
});

t.test('ENVIRONMENT: the connection variables, the child\'s, and the libpq ones pglock reads', async (t) => {
  const part = pagePart('.SH ENVIRONMENT');
  const { ENV_KEYWORDS } = await import('../../src/connection/keywords.js');
  for (const name of ['PGLOCK_DATABASE_URL', 'DATABASE_URL', 'PGLOCK_KEY', 'PGLOCK_LOCK_ID', 'PGLOCK_FENCING_TOKEN', ...ENV_KEYWORDS.map(([env]) => env)]) {
    t.ok(part.includes(`\n.B ${name}\n`), name);
  }
});

// README's tables, wherever the guides keep them (README.md, then docs/): the first table under a
// heading named `Options` or `Exit codes`.
const guides = [join(root, 'README.md'), ...(existsSync(join(root, 'docs')) ? readdirSync(join(root, 'docs'), { recursive: true }).map(String).filter((file) => file.endsWith('.md')).map((file) => join(root, 'docs', file)) : [])];
const tableUnder = (heading: string): string[][] => {
  for (const file of guides) {
    const lines = readFileSync(file, 'utf8').split('\n');
    const start = lines.findIndex((line) => new RegExp(`^#+ ${heading}$`).test(line));
    if (start < 0) continue;
    const rows: string[][] = [];
    for (const line of lines.slice(start + 1)) {
      if (/^#/.test(line)) break;
      if (line.startsWith('|') && !/^\|\s*-/.test(line)) rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim()));
    }
    return rows.slice(1); // the header row
  }
  return [];
};

t.test("README's options table lists every option of the run program", async (t) => {
  const rows = tableUnder('Options');
  t.ok(rows.length > 0, 'an "Options" table');
  const terms = rows.map((row) => row[0] ?? '').join(' ');
  for (const option of helpOptions(help([]))) t.ok(new RegExp(`\`[^\`]*${option}\\b`).test(terms), option);
});

t.test("README's exit-code table lists every code", async (t) => {
  const rows = tableUnder('Exit codes');
  t.ok(rows.length > 0, 'an "Exit codes" table');
  const codes = rows.flatMap((row) => (row[0] ?? '').match(/\d+(?:\+N)?/g) ?? []);
  for (const [name, code] of Object.entries(ExitCode)) t.ok(codes.includes(String(code)), `${code} (${name})`);
  t.ok(codes.includes(`${SIGNAL_EXIT_BASE}+N`), `${SIGNAL_EXIT_BASE}+N`);
});

t.test('README names every subcommand and every subcommand option', async (t) => {
  const readme = guides.map((file) => readFileSync(file, 'utf8')).join('\n');
  for (const { name } of subcommands) {
    t.ok(readme.includes(`pglock ${name}`), `pglock ${name}`);
    for (const option of helpOptions(help([name]))) t.ok(readme.includes(option), `pglock ${name} ${option}`);
  }
  t.match(readme, /^#+ Shell completion$/m, 'a "Shell completion" section');
});

const groff = spawnSync('groff', ['--version']).status === 0;
t.test('the page renders without a warning', { skip: groff ? false : 'groff is not installed (apt-get install groff-base)' }, async (t) => {
  const checked = spawnSync('groff', ['-ww', '-z', '-man', pageFile], { encoding: 'utf8' });
  t.same([checked.status, checked.stderr], [0, ''], 'groff -ww -z -man: no warnings');
  const rendered = spawnSync('groff', ['-man', '-Tutf8', '-P', '-c', pageFile], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80' } });
  t.equal(rendered.status, 0, rendered.stderr);
  const plain = rendered.stdout.replace(/.\x08/g, ''); // grotty's overstriking for bold and underline
  t.match(plain, /\nEXIT STATUS\n/);
  t.match(plain, /-E, --conflict-exit-code n\n/, 'an option renders as it is typed (ASCII hyphen-minus)');
});

// And the other way round: what README shows are real options. Its usage lines name each
// subcommand's own options; its "most used options" table, the run program's.
t.test("README's usage lines and most used options are options pglock has", async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const usage = /## Usage\n\n```\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const lines = usage.trim().split('\n');
  t.ok(lines.length >= subcommands.length + 2, 'a usage line per subcommand and two for a run');
  const known = new Set(subcommands.map(({ name }) => name));
  for (const line of lines) {
    const word = /^pglock ([a-z][\w-]*)/.exec(line)?.[1];
    const words = word !== undefined && known.has(word) ? [word] : [];
    const options = helpOptions(help(words));
    for (const flag of line.match(/(?<![\w-])--?[a-zA-Z][\w-]*/g) ?? []) t.ok(options.includes(flag), `${line}: ${flag}`);
  }
  const table = tableUnder('The most used options');
  t.ok(table.length >= 8, `${table.length} options in README's short table`);
  const runOptions = helpOptions(help([]));
  for (const [term = ''] of table) {
    for (const flag of term.match(/--?[a-zA-Z][\w-]*/g) ?? []) t.ok(runOptions.includes(flag), `the most used options: ${flag}`);
  }
});
