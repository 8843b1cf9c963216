// The tables every program's command line is read from, and the type of what scanning one gives:
// written `as const satisfies ProgramSpec`, a table's flags reach its options builder typed by
// name (--lock-id is `lockId: string | undefined`), with no cast in between.

/** One option: `--name`, maybe `-s`, a boolean unless it takes a `<value>`. */
export interface FlagSpec {
  readonly name: string;
  readonly short?: string;
  /** The value's placeholder in help, such as '<duration>'; absent for a boolean flag. */
  readonly value?: string;
  readonly description: string;
  /** Applied when the flag is absent, and shown in help. */
  readonly default?: string;
  /** The only values it takes, when they can be listed (completion offers them, the man page lists them). */
  readonly choices?: readonly string[];
  /** Help and version: handled by the scan, they end the parse. */
  readonly action?: 'help' | 'version';
}

/** An operand a program takes, by name; `choices` when its values can be listed. */
export interface OperandSpec {
  readonly name: string;
  readonly description: string;
  readonly choices?: readonly string[];
}

/** A command: its flags and what its operands are. */
export interface ProgramSpec {
  readonly name: string;
  readonly usage: string;
  readonly description: string;
  /** One line for lists of subcommands (help, man page, completion); else the description. */
  readonly summary?: string;
  readonly flags: readonly FlagSpec[];
  /** 'command': the first operand starts the command to run; else the operands it takes, by name. */
  readonly operands: 'command' | readonly OperandSpec[];
  /** Operands' section in help for 'command'. */
  readonly commandHelp?: { readonly name: string; readonly description: string };
  /** A "Subcommands" section in help: each name (with its operands) and what it does. */
  readonly subcommands?: readonly { readonly name: string; readonly description: string }[];
  readonly footer?: string;
}

/** `lock-id` → `lockId`, as the options objects spell it. */
export type CamelCase<Name extends string> = Name extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : Name;

// A valued flag is a string (always there when it has a default), any other a boolean when given.
type FlagValue<Flag extends FlagSpec> = Flag extends { value: string }
  ? Flag extends { default: string } ? string : string | undefined
  : boolean | undefined;

/** What a scan of `Program`'s command line gives: each flag by camelCased long name (help and version end the scan). */
export type ParsedFlags<Program extends ProgramSpec> = {
  [Flag in Program['flags'][number] as Flag extends { action: string } ? never : CamelCase<Flag['name']>]: FlagValue<Flag>;
};
