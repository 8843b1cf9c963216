import type { ProgramSpec } from '../args/flag-spec.js';

// What every shell's script needs from the program specs, in one plain shape.

export interface CompletableFlag {
  /** `--key`, and `-k` when it has a short form. */
  long: string;
  short?: string;
  /** The placeholder without brackets (`name`), when the flag takes a value. */
  value?: string;
  choices?: readonly string[];
  /** The first clause of the description, short enough for a menu. */
  summary: string;
  /** --help and --version: nothing else goes with them. */
  alone: boolean;
}

export interface CompletableProgram {
  /** '' for the run program, else the subcommand's name. */
  name: string;
  summary: string;
  flags: CompletableFlag[];
  /** 'command': from the first operand on, a command line; else the operands, with their choices. */
  operands: 'command' | { name: string; choices?: readonly string[] }[];
}

export interface Completable {
  run: CompletableProgram;
  subcommands: CompletableProgram[];
}

/** The run program and the subcommands, as the shells' scripts read them. */
export function toCompletable(programs: { run: ProgramSpec; subcommands: { name: string; spec: ProgramSpec }[] }): Completable {
  return { run: toProgram('', programs.run), subcommands: programs.subcommands.map(({ name, spec }) => toProgram(name, spec)) };
}

function toProgram(name: string, spec: ProgramSpec): CompletableProgram {
  return {
    name,
    summary: shorten(spec.summary ?? spec.description),
    flags: spec.flags.map((flag) => ({
      long: `--${flag.name}`,
      ...(flag.short ? { short: `-${flag.short}` } : {}),
      ...(flag.value ? { value: flag.value.replace(/^<|>$/g, '') } : {}),
      ...(flag.choices ? { choices: flag.choices } : {}),
      summary: shorten(flag.description),
      alone: flag.action !== undefined,
    })),
    operands: spec.operands === 'command' ? 'command' : spec.operands.map((operand) => ({ name: operand.name, ...(operand.choices ? { choices: operand.choices } : {}) })),
  };
}

// Up to the first '(' or ';', at most 60 characters, cut at a word.
function shorten(text: string): string {
  const clause = text.split(/ \(|;/)[0]?.trim() ?? text;
  if (clause.length <= 60) return clause;
  return `${clause.slice(0, 60).replace(/\s+\S*$/, '')}…`;
}

/** A word in single quotes for any POSIX-like shell (fish too: it takes \' and \\ inside). */
export function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
