import type { FlagSpec, ProgramSpec } from './flag-spec.js';

// Help is made from the same table that drives the parsing: a flag, its value, its default and
// its description cannot disagree with what the scan accepts.

/** A flag as help and errors name it: `-k, --key <name>`. */
export function formatFlag(flag: FlagSpec): string {
  return `${flag.short ? `-${flag.short}, ` : ''}--${flag.name}${flag.value ? ` ${flag.value}` : ''}`;
}

/** The help text: usage, description, operands, options (wrapped to 80 columns), footer. */
export function formatHelp(program: ProgramSpec): string {
  const operands = program.operands === 'command' ? (program.commandHelp ? [program.commandHelp] : []) : program.operands;
  const rows = program.flags.map((flag) => ({
    term: formatFlag(flag),
    text: flag.default === undefined ? flag.description : `${flag.description} (default: ${flag.default})`,
  }));
  const terms = [...rows.map((row) => row.term), ...operands.map((operand) => operand.name), ...(program.subcommands ?? []).map((sub) => sub.name)];
  const width = Math.max(...terms.map((term) => term.length)) + 2;
  const section = (title: string, items: { term: string; text: string }[]) =>
    items.length === 0 ? [] : ['', `${title}:`, ...items.map((item) => `  ${item.term.padEnd(width)}${wrap(item.text, 80 - 2 - width).join(`\n${' '.repeat(2 + width)}`)}`)];
  const lines = [
    `Usage: ${program.usage}`,
    '',
    ...wrap(program.description, 80),
    ...section('Arguments', operands.map((operand) => ({ term: operand.name, text: operand.description }))),
    ...section('Options', rows),
    ...section('Subcommands (only as the first argument)', (program.subcommands ?? []).map((sub) => ({ term: sub.name, text: sub.description }))),
    ...(program.footer ? ['', program.footer] : []),
  ];
  return `${lines.join('\n')}\n`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}
