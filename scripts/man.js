// Write man/pglock.1, pglock(1), from the same sources as --help: the program specs
// (src/cli/args/: options, values, defaults, choices, subcommands), the exit codes
// (src/exit-codes.ts) and the libpq variables pglock reads (src/connection/keywords.ts), read from
// tsc's output in dist/; the prose (DESCRIPTION, ENVIRONMENT, FILES, EXAMPLES, SEE ALSO) is
// hand-written in man/prose.roff. Run by npm run build, after tsc; the page is not committed.
//
//   node scripts/man.js            write man/pglock.1
//   node scripts/man.js --stdout   print it instead
import { readFileSync, writeFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const { listPrograms } = await import(new URL('dist/cli/args/parse-args.js', root).href);
const { ExitCode, EXIT_CODE_MEANINGS, SIGNAL_EXIT_BASE } = await import(new URL('dist/exit-codes.js', root).href);
const { ENV_KEYWORDS } = await import(new URL('dist/connection/keywords.js', root).href);
const { GUIDES } = await import(new URL('dist/cli/args/see-also.js', root).href);
const { version, description } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));

const page = renderPage(listPrograms(), readFileSync(new URL('man/prose.roff', root), 'utf8'));
if (process.argv.includes('--stdout')) process.stdout.write(page);
else writeFileSync(new URL('man/pglock.1', root), page);

function renderPage({ run, subcommands }, prose) {
  const sections = splitProse(prose);
  const take = (name) => {
    const body = sections.get(name);
    if (body === undefined) throw new Error(`man/prose.roff has no .SH ${name}`);
    return `.SH ${name}\n${body}`;
  };
  return [
    '.\\" pglock(1). Made by scripts/man.js (npm run build) from the program specs in',
    '.\\" src/cli/args/, src/exit-codes.ts and man/prose.roff: edit those, not this file.',
    `.TH PGLOCK 1 "" "pglock ${version}" "User Commands"`,
    '.\\" No hyphenation: names such as PGLOCK_DATABASE_URL and --conflict-exit-code stay whole.',
    '.nh',
    '.SH NAME',
    `pglock \\- ${text(description.replace(/^\w/, (letter) => letter.toLowerCase()).replace(/\.$/, ''))}`,
    '.SH SYNOPSIS',
    synopsis(run, subcommands),
    take('DESCRIPTION'),
    '.SH OPTIONS',
    ...run.flags.map(flagItem),
    '.SH SUBCOMMANDS',
    'Subcommands are recognized only as the first argument:',
    `\\fBpglock \\-k k \\-\\- ${subcommands[0]?.name ?? 'status'}\\fR runs a command named ${subcommands[0]?.name ?? 'status'}.`,
    ...subcommands.flatMap(subcommandSection),
    exitStatus(),
    fill(take('ENVIRONMENT')),
    take('FILES'),
    take('EXAMPLES'),
    take('SEE ALSO'),
  ].join('\n').replace(/\n*$/, '\n');
}

// The prose file: .SH sections, by name; @GUIDES@ and @LIBPQ_ENVIRONMENT@ filled in.
function splitProse(prose) {
  const sections = new Map();
  for (const part of prose.split(/^\.SH /m).slice(1)) {
    const [heading = '', ...body] = part.split('\n');
    sections.set(heading.replace(/^"|"$/g, ''), body.join('\n').replace(/@GUIDES@/g, text(GUIDES)).trimEnd());
  }
  return sections;
}

function fill(section) {
  return section.replace('.\\" @LIBPQ_ENVIRONMENT@', ENV_KEYWORDS.map(([name, keyword]) =>
    `.TP\n.B ${name}\nThe \\fB${keyword}\\fR connection parameter.`).join('\n'));
}

// One line per form: the run program's own (its usage), then each subcommand's.
function synopsis(run, subcommands) {
  const forms = run.usage.split('\n').map((line) => line.trim())
    .filter((line) => !subcommands.some((sub) => line === `pglock ${sub.name}` || line.startsWith(`pglock ${sub.name} `)));
  return [...forms, ...subcommands.map((sub) => sub.spec.usage)].map(usageLine).join('\n.br\n');
}

// `pglock status [options]` → pglock and the subcommand in bold, <placeholders> in italics.
function usageLine(usage) {
  const words = usage.split(' ');
  return words.map((word, index) => {
    if (index === 0 || (index === 1 && /^[a-z]+$/.test(word))) return `\\fB${word}\\fR`;
    return text(word)
      .replace(/<([^>]+)>/g, '\\fI$1\\fR')
      .replace(/(^|\[)((?:\\-)+[a-zA-Z][\w\\-]*)/g, '$1\\fB$2\\fR');
  }).join(' ');
}

// .TP, then `-k, --key name`, then what it does, its default and its choices.
function flagItem(flag) {
  const names = [flag.short ? `\\fB\\-${flag.short}\\fR` : undefined, `\\fB${text(`--${flag.name}`)}\\fR`].filter(Boolean).join(', ');
  const value = flag.value ? ` \\fI${text(flag.value.replace(/^<|>$/g, ''))}\\fR` : '';
  const more = [
    flag.choices ? `One of: ${flag.choices.join(', ')}.` : undefined,
    flag.default !== undefined ? `Default: ${flag.default}.` : undefined,
  ].filter(Boolean).join(' ');
  return `.TP\n${names}${value}\n${text(sentence(flag.description))}${more ? `\n${text(more)}` : ''}`;
}

function subcommandSection({ name, spec }) {
  const operands = spec.operands === 'command' ? [] : spec.operands;
  return [
    `.SS ${name}`,
    usageLine(spec.usage),
    '.PP',
    text(spec.description),
    ...operands.map((operand) => `.TP\n\\fI${text(operand.name)}\\fR\n${text(sentence(operand.description))}`),
    ...spec.flags.map(flagItem),
  ];
}

// flock(1)'s form: the contract in a few sentences, then each code.
function exitStatus() {
  const codes = Object.entries(ExitCode).sort(([, a], [, b]) => a - b);
  return [
    '.SH EXIT STATUS',
    `When the command ran, pglock exits with the command's exit status, or ${SIGNAL_EXIT_BASE}+\\fIN\\fR when the command was killed by signal \\fIN\\fR`,
    `(also when pglock got signal \\fIN\\fR while it waited for the lock).`,
    `When pglock could not get the lock, it exits ${ExitCode.Conflict}, or the code given by \\fB\\-E\\fR (0 to 255).`,
    'For everything else it uses sysexits(3) values, and those of a shell for a command it cannot run:',
    ...codes.map(([name, code]) => `.TP\n.B ${code}\n${text(sentence(EXIT_CODE_MEANINGS[name]))}`),
  ].join('\n');
}

// As --help words it, ended with a full stop.
function sentence(line) {
  return line.endsWith('.') ? line : `${line}.`;
}

// Text for roff: backslashes escaped, an option's dashes as minus signs (`--lock-id` is typed with
// ASCII hyphen-minus, which a plain - is not once formatted), no control character first.
function text(line) {
  return line
    .replace(/\\/g, '\\e')
    .replace(/(^|[\s(["'=,/])(--?[A-Za-z0-9][\w-]*)/g, (_, before, option) => `${before}${option.replace(/-/g, '\\-')}`)
    .replace(/^([.'])/, '\\&$1');
}
