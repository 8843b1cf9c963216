import { type ParseArgsConfig, parseArgs as scanTokens } from 'node:util';
import { UsageError } from '../../errors.js';
import type { ParsedFlags, ProgramSpec } from './flag-spec.js';
import { formatFlag, formatHelp } from './format-help.js';

// A small command-line grammar on top of node:util's parseArgs, which does the POSIX part (short
// clusters such as -wq, -kname, --flag=value, --). What it lacks, this adds: stopping at the first
// operand (everything from there on belongs to the command, options included), errors worded for
// people, and help text made from the same table that drives the parsing. It replaced commander
// (issue 13): one dependency fewer, and a bundle a quarter smaller (148 → 110 KB).

export type Scanned<Flags> =
  /** flags: by camelCased long name (--lock-id is lockId), defaults filled in. */
  | { kind: 'parsed'; flags: Flags; operands: string[] }
  | { kind: 'help'; text: string }
  | { kind: 'version' };

/** Split argv into flags and operands by the program's table; any misuse is a UsageError. */
export function scanArgs<Program extends ProgramSpec>(argv: string[], program: Program): Scanned<ParsedFlags<Program>> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const flag of program.flags) {
    options[flag.name] = { type: flag.value ? 'string' : 'boolean', ...(flag.short ? { short: flag.short } : {}) };
  }
  const { tokens } = scanTokens({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const flags: Record<string, string | boolean | undefined> = {};
  const operands: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator' || token.kind === 'positional') {
      if (program.operands === 'command') {
        operands.push(...argv.slice(token.index + (token.kind === 'option-terminator' ? 1 : 0)));
        break;
      }
      if (token.kind === 'positional') operands.push(token.value);
      continue;
    }
    const long = token.rawName.startsWith('--');
    const flag = program.flags.find((spec) => (long ? spec.name === token.name : spec.short === token.rawName.slice(1)));
    if (!flag) throw usage(program, `unknown option '${token.rawName}'`);
    if (flag.action === 'help') return { kind: 'help', text: formatHelp(program) };
    if (flag.action === 'version') return { kind: 'version' };
    if (flag.value && token.value === undefined) throw usage(program, `option '${formatFlag(flag)}' argument missing`);
    if (!flag.value && token.inlineValue) throw usage(program, `option '${formatFlag(flag)}' takes no value, got '${token.rawName}=…'`);
    flags[camelCase(flag.name)] = flag.value ? token.value : true;
  }
  if (program.operands !== 'command') checkOperandCount(program, program.operands.map((operand) => operand.name), operands.length);
  for (const flag of program.flags) flags[camelCase(flag.name)] ??= flag.default;
  // The one place the table's type meets what was scanned: every flag of the table, by the name
  // ParsedFlags gives it, a string if it takes a value, else a boolean (see flag-spec.ts).
  return { kind: 'parsed', flags: flags as ParsedFlags<Program>, operands };
}

// --lock-id is flags.lockId, as the options objects spell it.
function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function checkOperandCount(program: ProgramSpec, names: readonly string[], got: number): void {
  if (got < names.length) throw usage(program, `missing required argument '${names[got]}'`);
  if (got > names.length) {
    throw usage(program, `too many arguments: ${program.name} takes ${names.length === 0 ? 'none' : names.map((name) => `<${name}>`).join(' ')}, got ${got}`);
  }
}

function usage(program: ProgramSpec, message: string): UsageError {
  return new UsageError(`${message} (see ${program.name} --help)`);
}
