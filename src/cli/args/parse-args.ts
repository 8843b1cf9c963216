import { type Env, pickDatabaseUrl, resolveConnectionConfig } from '../../connection/index.js';
import { parseDuration } from '../../duration.js';
import { UsageError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { MAX_LIMIT, lockIdForKey, parseLockId } from '../../key/lock-id.js';
import { DEFAULT_HISTORY } from '../../runs/index.js';
import type { CheckOptions, CommandSpec, CompletionOptions, HistoryOptions, KeyOptions, LogFormat, ReleaseOptions, RunOptions, StatusOptions, Verbosity } from './options.js';
import { type ProgramSpec, scanArgs } from './scan-args.js';
import { CONNECT_TIMEOUT, HELP, LOG_FORMAT } from './common-flags.js';
import { CHECK, HISTORY, RELEASE, toCheckOptions, toHistoryOptions, toReleaseOptions } from './check-program.js';
import { parseCount, parseMaxRuntime, parseSignal } from './parse-values.js';
import { SEE_ALSO } from './see-also.js';
import { readVersion } from './version.js';
import { checkOutputWritable } from '../report/write-output.js';

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


interface RawFlags {
  key?: string;
  lockId?: string;
  databaseUrl?: string;
  wait?: boolean;
  timeout?: string;
  conflictExitCode: string;
  connectTimeout: string;
  heartbeat: string;
  primaryCheck?: string;
  killAfter: string;
  maxRuntime?: string;
  killSignal: string;
  command?: string;
  verbose?: boolean;
  quiet?: boolean;
  logFormat: string;
  shared?: boolean;
  limit?: string;
  fencingToken?: boolean;
  minInterval?: string;
  record?: boolean;
  transactionLock?: boolean;
  history?: string;
}

interface StatusFlags {
  key?: string;
  databaseUrl?: string;
  json?: boolean;
  format?: string;
  output?: string;
  connectTimeout: string;
  logFormat: string;
}

interface KeyFlags {
  limit?: string;
  json?: boolean;
}

// The only module that knows the command line: argv in, typed options out, or the help or version
// text, which main prints on stdout because the user asked for it; nothing else runs then.
// Subcommands (SUBCOMMANDS, below) are subcommands only as the very first argument:
// `pglock --key k -- status` runs a command named status, like any other.
export function parseArgs(argv: string[], env: Env): ParseResult {
  const [first, ...rest] = argv;
  const subcommand = SUBCOMMANDS.find((entry) => entry.name === first);
  if (subcommand) return parse(subcommand.spec, rest, subcommand.build, env);
  return parse(runProgram(), argv, (flags, operands) => ({ kind: 'run', options: toRunOptions(flags as unknown as RawFlags, operands, env) }), env);
}

/** Every program's spec: the run program's and each subcommand's, for help, the man page and completion. */
export function listPrograms(): { run: ProgramSpec; subcommands: { name: string; spec: ProgramSpec }[] } {
  return { run: runProgram(), subcommands: SUBCOMMANDS.map(({ name, spec }) => ({ name, spec })) };
}

// pglock's own spec, with the list of subcommands its help shows, each with its operands
// (`key <name>`), made from the table that dispatches them.
function runProgram(): ProgramSpec {
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
    if (value === 'json' || value === 'text') format = value;
  }
  return format;
}

type Build = (flags: Record<string, string | boolean | undefined>, operands: string[], env: Env) => ParseResult;

// Every program's help ends with where the manual and the guides are.
function parse(program: ProgramSpec, argv: string[], build: Build, env: Env): ParseResult {
  const scanned = scanArgs(argv, { ...program, footer: program.footer ? `${program.footer}\n\n${SEE_ALSO}` : SEE_ALSO });
  if (scanned.kind === 'help') return { kind: 'print', stdout: scanned.text };
  if (scanned.kind === 'version') return { kind: 'print', stdout: `${readVersion()}\n` };
  return build(scanned.flags, scanned.operands, env);
}

const RUN: ProgramSpec = {
  name: 'pglock',
  usage: "pglock [options] -- <command> [args...]\n       pglock [options] -c '<shell command line>'",
  description: 'Run a command while holding a PostgreSQL advisory lock: at most one runs per key, across all hosts.',
  operands: 'command',
  commandHelp: { name: 'command', description: 'the command to run and its arguments' },
  flags: [
    { name: 'key', short: 'k', value: '<name>', description: 'lock name, any non-empty string (env PGLOCK_KEY)' },
    { name: 'lock-id', value: '<int64>', description: 'use this raw 64-bit advisory lock id instead of a name' },
    {
      name: 'database-url',
      short: 'd',
      value: '<conninfo>',
      description:
        'connection string, as psql takes it: a postgres:// URL or keyword=value pairs (host=db dbname=app), one host or several (pglock locks on the primary); else PGLOCK_DATABASE_URL, DATABASE_URL, then service files, the PG* variables, the Unix socket, ~/.pgpass (see docs/connecting.md)',
    },
    { name: 'wait', short: 'w', description: 'wait until the lock is free (no time limit)' },
    { name: 'timeout', short: 't', value: '<duration>', description: 'wait at most this long, then give up (500ms, 30s, 5m, 1h); implies --wait' },
    { name: 'conflict-exit-code', short: 'E', value: '<n>', description: 'exit code when the lock is not acquired', default: String(ExitCode.Conflict) },
    { name: 'shared', short: 's', description: 'take the lock shared: shared holders run together, an exclusive holder excludes them all' },
    { name: 'limit', short: 'n', value: '<n>', description: `let up to n holders run at once (a counting semaphore, 1 to ${MAX_LIMIT})` },
    { name: 'fencing-token', description: 'give the command PGLOCK_FENCING_TOKEN, a number that grows every time the lock changes hands (implies --record)' },
    {
      name: 'min-interval',
      value: '<duration>',
      description: "run only if no run of this key started less than this long ago, by the database's clock (1h, 1d); else exit as when busy (implies --record)",
    },
    {
      name: 'transaction-lock',
      description:
        'hold the lock in a transaction kept open while the command runs (pg_advisory_xact_lock), for a transaction-mode pooler such as PgBouncer; done by itself when such a pooler is detected. Not with --record, --limit or their kin',
    },
    { name: 'record', description: 'record each run (start, end, host, pid, exit) in the table public.pglock_runs, shown by pglock status, history and check' },
    { name: 'history', value: '<n>', description: 'with the run record, keep the last n runs of the key (0: only the last)', default: String(DEFAULT_HISTORY) },
    CONNECT_TIMEOUT,
    { name: 'heartbeat', value: '<duration>', description: 'check that the lock is still held this often', default: '5s' },
    {
      name: 'primary-check',
      value: '<duration>',
      description:
        'while the command runs, check this often that the server holding the lock is still the primary the connection settings lead to (one short connection per host asked); else stop the command and exit 70. Default: the --heartbeat interval; 0 turns it off',
    },
    {
      name: 'kill-after',
      value: '<duration>',
      description: 'after the lock is lost or --max-runtime, SIGKILL the command if it is still running this long after --kill-signal',
      default: '10s',
    },
    { name: 'max-runtime', value: '<duration>', description: `stop the command (--kill-signal, then SIGKILL after --kill-after) when it has run this long; exit ${ExitCode.TimedOut}, recorded as timed-out` },
    { name: 'kill-signal', value: '<signal>', description: 'the signal that stops the command (TERM, INT, QUIT, HUP, USR1, ...)', default: 'SIGTERM' },
    { name: 'command', short: 'c', value: '<string>', description: 'run the string with /bin/sh -c instead of an argv after --' },
    { name: 'verbose', short: 'v', description: 'more messages on stderr' },
    { name: 'quiet', short: 'q', description: 'only errors on stderr (not "lock busy")' },
    LOG_FORMAT,
    { name: 'version', short: 'V', description: 'print the version', action: 'version' },
    HELP,
  ],
};

const STATUS: ProgramSpec = {
  name: 'pglock status',
  usage: 'pglock status [options]',
  description: 'List the advisory locks in the database: holders and waiters, and who they are; and the last recorded run of each key. --format prometheus: the same as metrics.',
  summary: 'list advisory locks, holders, waiters and last runs; or metrics',
  operands: [],
  flags: [
    { name: 'key', short: 'k', value: '<name>', description: 'only this key (and its --limit slots)' },
    {
      name: 'database-url',
      short: 'd',
      value: '<conninfo>',
      description: 'connection string: a URL or keyword=value pairs (else PGLOCK_DATABASE_URL, DATABASE_URL, then as psql; see docs/connecting.md)',
    },
    { name: 'json', description: 'print JSON instead of a table (--format json)' },
    { name: 'format', value: '<format>', description: 'text, json, or prometheus (the text exposition format: last runs, holders, waiters)', default: 'text' },
    { name: 'output', short: 'o', value: '<file>', description: 'write the report to this file atomically (a temporary file, then rename), for the node_exporter textfile collector' },
    CONNECT_TIMEOUT,
    LOG_FORMAT,
    HELP,
  ],
};

const KEY: ProgramSpec = {
  name: 'pglock key',
  usage: 'pglock key [options] <name>',
  description: 'Print the advisory lock id of a key, and the SQL that takes the same lock.',
  summary: 'print the lock id of a key and the SQL that takes the same lock',
  operands: [{ name: 'name', description: 'the lock key' }],
  flags: [
    { name: 'limit', short: 'n', value: '<n>', description: 'also print the slot ids that --limit n uses' },
    { name: 'json', description: 'print JSON' },
    HELP,
  ],
};

const SHELLS = ['bash', 'zsh', 'fish'] as const;
const COMPLETION: ProgramSpec = {
  name: 'pglock completion',
  usage: 'pglock completion <shell>',
  description: "Print a completion script for the shell on stdout: pglock's options, subcommands and their values.",
  summary: 'print a shell completion script (bash, zsh or fish)',
  operands: [{ name: 'shell', description: SHELLS.join(', '), choices: SHELLS }],
  flags: [HELP],
};

// The subcommands, by the first argument that names them: dispatch, help, man page and completion
// all read this list.
const SUBCOMMANDS: { name: string; spec: ProgramSpec; build: Build }[] = [
  { name: 'status', spec: STATUS, build: (flags, _, env) => ({ kind: 'status', options: toStatusOptions(flags as unknown as StatusFlags, env) }) },
  { name: 'check', spec: CHECK, build: (flags, _, env) => ({ kind: 'check', options: toCheckOptions(flags, env) }) },
  { name: 'history', spec: HISTORY, build: (flags, _, env) => ({ kind: 'history', options: toHistoryOptions(flags, env) }) },
  { name: 'release', spec: RELEASE, build: (flags, _, env) => ({ kind: 'release', options: toReleaseOptions(flags, env) }) },
  { name: 'key', spec: KEY, build: (flags, operands) => ({ kind: 'key', options: toKeyOptions(flags as unknown as KeyFlags, operands) }) },
  { name: 'completion', spec: COMPLETION, build: (_, operands) => ({ kind: 'completion', options: toCompletionOptions(operands) }) },
];

function toRunOptions(flags: RawFlags, positional: string[], env: Env): RunOptions {
  if (flags.verbose && flags.quiet) throw new UsageError('--verbose and --quiet cannot be used together');
  const { key, lockId } = resolveKey(flags, env);
  const command = resolveCommand(flags.command, positional);
  const timeoutMs = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout');
  const verbosity: Verbosity = flags.verbose ? 'verbose' : flags.quiet ? 'quiet' : 'normal';
  const limit = flags.limit === undefined ? undefined : parseLimit(flags.limit);
  if (limit !== undefined && flags.shared) throw new UsageError('--limit and --shared cannot be used together');
  const minIntervalMs = flags.minInterval === undefined ? undefined : parseMinInterval(flags.minInterval);
  if (minIntervalMs !== undefined && flags.shared) throw new UsageError('--min-interval and --shared cannot be used together (shared holders run together)');
  if (flags.transactionLock) {
    const other = limit !== undefined ? '--limit' : flags.fencingToken ? '--fencing-token' : minIntervalMs !== undefined ? '--min-interval' : flags.record ? '--record' : undefined;
    if (other) throw new UsageError(`--transaction-lock and ${other} cannot be used together (${other} needs a session lock)`);
  }
  return {
    key,
    lockId,
    connection: resolveConnectionConfig(pickDatabaseUrl(flags.databaseUrl, env), env),
    wait: flags.wait === true || timeoutMs !== undefined,
    timeoutMs,
    conflictExitCode: parseExitCode(flags.conflictExitCode),
    connectTimeoutMs: parseDuration(flags.connectTimeout, '--connect-timeout'),
    heartbeatMs: parseDuration(flags.heartbeat, '--heartbeat'),
    primaryCheckMs: flags.primaryCheck === undefined ? parseDuration(flags.heartbeat, '--heartbeat') : parseDuration(flags.primaryCheck, '--primary-check'),
    killAfterMs: parseDuration(flags.killAfter, '--kill-after'),
    maxRuntimeMs: flags.maxRuntime === undefined ? undefined : parseMaxRuntime(flags.maxRuntime),
    killSignal: parseSignal(flags.killSignal),
    command,
    verbosity,
    logFormat: parseLogFormat(flags.logFormat),
    shared: flags.shared === true,
    limit,
    fencingToken: flags.fencingToken === true,
    minIntervalMs,
    record: flags.record === true || flags.fencingToken === true || minIntervalMs !== undefined,
    transaction: flags.transactionLock === true ? true : 'auto',
    history: parseCount(flags.history ?? String(DEFAULT_HISTORY), '--history', 0),
  };
}

// A minimum interval is compared by the database, never used as a timer: up to ten years.
function parseMinInterval(text: string): number {
  const ms = parseDuration(text, '--min-interval', 3650 * 86_400_000);
  if (ms === 0) throw new UsageError(`--min-interval must be longer than 0, got '${text}'`);
  return ms;
}

function toStatusOptions(flags: StatusFlags, env: Env): StatusOptions {
  if (flags.key === '') throw new UsageError('the lock key must not be empty');
  const format = flags.json === true && flags.format === 'text' ? 'json' : flags.format ?? 'text';
  if (format !== 'text' && format !== 'json' && format !== 'prometheus') throw new UsageError(`--format must be text, json or prometheus, got '${format}'`);
  if (flags.json === true && format !== 'json') throw new UsageError('give --json or --format, not both');
  if (flags.output === '') throw new UsageError('--output needs a file name');
  if (flags.output !== undefined) checkOutputWritable(flags.output);
  return {
    connection: resolveConnectionConfig(pickDatabaseUrl(flags.databaseUrl, env), env),
    key: flags.key,
    json: format === 'json',
    format,
    output: flags.output,
    connectTimeoutMs: parseDuration(flags.connectTimeout, '--connect-timeout'),
    logFormat: parseLogFormat(flags.logFormat),
  };
}

function toKeyOptions(flags: KeyFlags, positional: string[]): KeyOptions {
  const [key] = positional; // the scan refuses a second one
  if (key === undefined || key === '') throw new UsageError('the lock key must not be empty');
  return { key, limit: flags.limit === undefined ? undefined : parseLimit(flags.limit), json: flags.json === true };
}

function toCompletionOptions(positional: string[]): CompletionOptions {
  const shell = SHELLS.find((known) => known === positional[0]); // the scan makes sure there is one
  if (shell === undefined) throw new UsageError(`unknown shell '${positional[0]}': pglock completion takes ${SHELLS.join(', ')}`);
  return { shell };
}

function parseLimit(text: string): number {
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > MAX_LIMIT) {
    throw new UsageError(`--limit must be a whole number from 1 to ${MAX_LIMIT}, got '${text}'`);
  }
  return Number(text);
}

function parseLogFormat(text: string): LogFormat {
  const format = (['text', 'json'] as const).find((known) => known === text);
  if (format === undefined) throw new UsageError(`--log-format must be text or json, got '${text}'`);
  return format;
}

// --key and --lock-id exclude each other; PGLOCK_KEY from the environment yields to --lock-id.
function resolveKey(flags: RawFlags, env: Env): { key: string | undefined; lockId: bigint } {
  if (flags.key !== undefined && flags.lockId !== undefined) throw new UsageError('give --key or --lock-id, not both');
  if (flags.lockId !== undefined) return { key: undefined, lockId: parseLockId(flags.lockId) };
  const key = flags.key ?? env.PGLOCK_KEY;
  if (key === undefined) throw new UsageError('a lock key is required: --key <name> (or PGLOCK_KEY), or --lock-id <int64>');
  return { key, lockId: lockIdForKey(key) };
}

function resolveCommand(shellLine: string | undefined, positional: string[]): CommandSpec {
  if (shellLine !== undefined && positional.length > 0) throw new UsageError('give the command after -- or with -c, not both');
  if (shellLine !== undefined) {
    if (shellLine.trim() === '') throw new UsageError('the -c command must not be empty');
    return { file: '/bin/sh', args: ['-c', shellLine], shell: true };
  }
  const [file, ...args] = positional;
  if (file === undefined || file === '') throw new UsageError("a command is required: pglock [options] -- <command> [args...], or -c '<shell line>'");
  return { file, args, shell: false };
}

function parseExitCode(text: string): number {
  const code = Number(text);
  if (!/^\d{1,3}$/.test(text) || code > 255) throw new UsageError(`--conflict-exit-code must be a whole number from 0 to 255, got '${text}'`);
  return code;
}
