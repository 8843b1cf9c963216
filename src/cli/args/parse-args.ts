import type { Env } from '../../connection/index.js';
import { CHECK, toCheckOptions } from './check-program.js';
import { LOG_FORMATS } from './common-flags.js';
import { COMPLETION, toCompletionOptions } from './completion-program.js';
import type { ParsedFlags, ProgramSpec } from './flag-spec.js';
import { HISTORY, toHistoryOptions } from './history-program.js';
import { KEY_PROGRAM, toKeyOptions } from './key-program.js';
import type { CheckOptions, CompletionOptions, HistoryOptions, KeyOptions, LogFormat, ReleaseOptions, RunOptions, StatusOptions } from './options.js';
import { RELEASE, toReleaseOptions } from './release-program.js';
import { RUN, toRunOptions } from './run-program.js';
import { scanArgs } from './scan-args.js';
import { SEE_ALSO } from './see-also.js';
import { STATUS, toStatusOptions } from './status-program.js';
import { readVersion } from './version.js';

export type ParseResult =
  | { kind: 'run'; options: RunOptions }
  | { kind: 'status'; options: StatusOptions }
  | { kind: 'key'; options: KeyOptions }
  | { kind: 'completion'; options: CompletionOptions }
  | { kind: 'check'; options: CheckOptions }
  | { kind: 'history'; options: HistoryOptions }
  | { kind: 'release'; options: ReleaseOptions }
  /** --help or --version: print `stdout` and exit 0. */
  | { kind: 'print'; stdout: string };

// The only module that knows the command line: argv in, typed options out, or the help or version
// text, which main prints on stdout because the user asked for it; nothing else runs then.
// Subcommands (SUBCOMMANDS, below) are subcommands only as the very first argument:
// `pglock --key k -- status` runs a command named status, like any other.
export function parseArgs(argv: string[], env: Env): ParseResult {
  const [first, ...rest] = argv;
  const subcommand = SUBCOMMANDS.find((entry) => entry.name === first);
  if (subcommand) return subcommand.parse(rest, env);
  return parse(runProgram(), argv, env, (flags, operands) => ({ kind: 'run', options: toRunOptions(flags, operands, env) }));
}

/** Every program's spec: the run program's and each subcommand's, for help, the man page and completion. */
export function listPrograms(): { run: ProgramSpec; subcommands: { name: string; spec: ProgramSpec }[] } {
  return { run: runProgram(), subcommands: SUBCOMMANDS.map(({ name, spec }) => ({ name, spec })) };
}

// pglock's own spec, with the list of subcommands its help shows, each with its operands
// (`key <name>`), made from the table that dispatches them.
function runProgram(): Omit<typeof RUN, 'usage'> & Pick<ProgramSpec, 'usage' | 'subcommands'> {
  const subcommands = SUBCOMMANDS.map(({ name, spec }) => ({
    name: [name, ...(spec.operands === 'command' ? [] : spec.operands.map((operand) => `<${operand.name}>`))].join(' '),
    description: spec.summary ?? spec.description,
  }));
  // Each subcommand's own usage line follows pglock's two.
  const usage = [RUN.usage, ...SUBCOMMANDS.map(({ spec }) => `       ${spec.usage}`)].join('\n');
  return { ...RUN, usage, subcommands };
}

/**
 * The log format asked for on the command line, looked up before parsing so that even a usage
 * error comes out in it. Only options before a `--` count; the rest belongs to the command.
 */
export function requestedLogFormat(argv: string[]): LogFormat {
  let format: LogFormat = 'text';
  for (let i = 0; i < argv.length && argv[i] !== '--'; i++) {
    const value = argv[i] === '--log-format' ? argv[i + 1] : argv[i]?.startsWith('--log-format=') ? argv[i]?.slice(13) : undefined;
    format = LOG_FORMATS.find((known) => known === value) ?? format;
  }
  return format;
}

type Build<Program extends ProgramSpec> = (flags: ParsedFlags<Program>, operands: string[]) => ParseResult;

// Every program's help ends with where the manual and the guides are.
function parse<Program extends ProgramSpec>(program: Program, argv: string[], env: Env, build: Build<Program>): ParseResult {
  const scanned = scanArgs<Program>(argv, { ...program, footer: program.footer ? `${program.footer}\n\n${SEE_ALSO}` : SEE_ALSO });
  if (scanned.kind === 'help') return { kind: 'print', stdout: scanned.text };
  if (scanned.kind === 'version') return { kind: 'print', stdout: `${readVersion()}\n` };
  return build(scanned.flags, scanned.operands);
}

interface Subcommand {
  name: string;
  spec: ProgramSpec;
  parse(argv: string[], env: Env): ParseResult;
}

// A subcommand's table and what its scanned flags make, tied by type.
function subcommand<Program extends ProgramSpec>(name: string, spec: Program, build: (flags: ParsedFlags<Program>, operands: string[], env: Env) => ParseResult): Subcommand {
  return { name, spec, parse: (argv, env) => parse(spec, argv, env, (flags, operands) => build(flags, operands, env)) };
}

// The subcommands, by the first argument that names them: dispatch, help, man page and completion
// all read this list.
const SUBCOMMANDS: Subcommand[] = [
  subcommand('status', STATUS, (flags, _, env) => ({ kind: 'status', options: toStatusOptions(flags, env) })),
  subcommand('check', CHECK, (flags, _, env) => ({ kind: 'check', options: toCheckOptions(flags, env) })),
  subcommand('history', HISTORY, (flags, _, env) => ({ kind: 'history', options: toHistoryOptions(flags, env) })),
  subcommand('release', RELEASE, (flags, _, env) => ({ kind: 'release', options: toReleaseOptions(flags, env) })),
  subcommand('key', KEY_PROGRAM, (flags, operands) => ({ kind: 'key', options: toKeyOptions(flags, operands) })),
  subcommand('completion', COMPLETION, (_, operands) => ({ kind: 'completion', options: toCompletionOptions(operands) })),
];
