import { Command, CommanderError } from 'commander';
import { type Env, pickDatabaseUrl, resolveConnectionConfig } from '../connection/index.js';
import { parseDuration } from '../duration.js';
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { MAX_LIMIT, lockIdForKey, parseLockId } from '../lock-id.js';
import type { CommandSpec, KeyOptions, LogFormat, RunOptions, StatusOptions, Verbosity } from './options.js';
import { readVersion } from './version.js';

export type ParseResult =
  | { kind: 'run'; options: RunOptions }
  | { kind: 'status'; options: StatusOptions }
  | { kind: 'key'; options: KeyOptions }
  | { kind: 'exit'; code: number };


interface RawFlags {
  key?: string;
  lockId?: string;
  databaseUrl?: string;
  wait?: boolean;
  timeout?: string;
  conflictExitCode: string;
  connectTimeout: string;
  heartbeat: string;
  killAfter: string;
  command?: string;
  verbose?: boolean;
  quiet?: boolean;
  logFormat: string;
  shared?: boolean;
  limit?: string;
  fencingToken?: boolean;
  minInterval?: string;
  record?: boolean;
}

interface StatusFlags {
  key?: string;
  databaseUrl?: string;
  json?: boolean;
  connectTimeout: string;
  logFormat: string;
}

interface KeyFlags {
  limit?: string;
  json?: boolean;
}

// The only module that knows about commander: argv in, typed options out. Help and --version
// print to stdout because the user asked for them; nothing else runs then. `status` and `key` are
// subcommands only as the very first argument: `pglock --key k -- status` runs a command named
// status, like any other.
export function parseArgs(argv: string[], env: Env): ParseResult {
  const [first, ...rest] = argv;
  if (first === 'status') {
    return parse(buildStatusProgram(), rest, (program) => ({ kind: 'status', options: toStatusOptions(program.opts<StatusFlags>(), env) }));
  }
  if (first === 'key') {
    return parse(buildKeyProgram(), rest, (program) => ({ kind: 'key', options: toKeyOptions(program.opts<KeyFlags>(), program.args) }));
  }
  return parse(buildProgram(), argv, (program) => ({ kind: 'run', options: toRunOptions(program.opts<RawFlags>(), program.args, env) }));
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

function parse(program: Command, argv: string[], build: (program: Command) => ParseResult): ParseResult {
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return { kind: 'exit', code: 0 };
      throw new UsageError(`${error.message.replace(/^error: /, '')} (see ${program.name()} --help)`);
    }
    throw error;
  }
  return build(program);
}

function buildProgram(): Command {
  return withOutput(new Command('pglock'))
    .usage("[options] -- <command> [args...]\n       pglock [options] -c '<shell command line>'\n       pglock status [--key <name>] [--json]\n       pglock key <name>")
    .description('Run a command while holding a PostgreSQL advisory lock: at most one runs per key, across all hosts.')
    .option('-k, --key <name>', 'lock name, any non-empty string (env PGLOCK_KEY)')
    .option('--lock-id <int64>', 'use this raw 64-bit advisory lock id instead of a name')
    .option('-d, --database-url <conninfo>', 'connection string, as psql takes it: a postgres:// URL or keyword=value pairs (host=db dbname=app), one host or several (pglock locks on the primary); else PGLOCK_DATABASE_URL, DATABASE_URL, then service files, the PG* variables, the Unix socket, ~/.pgpass (see README, "Connecting")')
    .option('-w, --wait', 'wait until the lock is free (no time limit)')
    .option('-t, --timeout <duration>', 'wait at most this long, then give up (500ms, 30s, 5m, 1h); implies --wait')
    .option('-E, --conflict-exit-code <n>', 'exit code when the lock is not acquired', String(ExitCode.Conflict))
    .option('-s, --shared', 'take the lock shared: shared holders run together, an exclusive holder excludes them all')
    .option('-n, --limit <n>', `let up to n holders run at once (a counting semaphore, 1 to ${MAX_LIMIT})`)
    .option('--fencing-token', 'give the command PGLOCK_FENCING_TOKEN, a number that grows every time the lock changes hands (implies --record)')
    .option('--min-interval <duration>', 'run only if no run of this key started less than this long ago, by the database\'s clock (1h, 1d); else exit as when busy (implies --record)')
    .option('--record', 'record each run (start, end, host, pid, exit) in the table public.pglock_runs, shown by pglock status')
    .option('--connect-timeout <duration>', 'keep trying to connect, with backoff, for this long', '10s')
    .option('--heartbeat <duration>', 'check that the lock is still held this often', '5s')
    .option('--kill-after <duration>', 'after the lock is lost, SIGKILL the command if it is still running this long after SIGTERM', '10s')
    .option('-c, --command <string>', 'run the string with /bin/sh -c instead of an argv after --')
    .option('-v, --verbose', 'more messages on stderr')
    .option('-q, --quiet', 'only errors on stderr (not "lock busy")')
    .option('--log-format <format>', 'text, or json: one JSON object per stderr line', 'text')
    .version(readVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show this help')
    .argument('[command...]', 'the command to run and its arguments')
    .addHelpText('after', '\nSubcommands (only as the first argument):\n  status [--key <name>] [--json]  list advisory locks, holders and waiters\n  key <name>                      print the lock id of a key and the SQL that takes the same lock')
    .passThroughOptions();
}

function buildStatusProgram(): Command {
  return withOutput(new Command('pglock status'))
    .description('List the advisory locks in the database: holders and waiters, and who they are.')
    .option('-k, --key <name>', 'only this key (and its --limit slots)')
    .option('-d, --database-url <conninfo>', 'connection string: a URL or keyword=value pairs (else PGLOCK_DATABASE_URL, DATABASE_URL, then as psql; see README, "Connecting")')
    .option('--json', 'print a JSON array instead of a table')
    .option('--connect-timeout <duration>', 'keep trying to connect, with backoff, for this long', '10s')
    .option('--log-format <format>', 'text, or json: one JSON object per stderr line', 'text')
    .helpOption('-h, --help', 'show this help');
}

function buildKeyProgram(): Command {
  return withOutput(new Command('pglock key'))
    .description('Print the advisory lock id of a key, and the SQL that takes the same lock.')
    .argument('<name>', 'the lock key')
    .option('-n, --limit <n>', 'also print the slot ids that --limit n uses')
    .option('--json', 'print JSON')
    .helpOption('-h, --help', 'show this help');
}

function withOutput(program: Command): Command {
  return program
    .exitOverride()
    .configureOutput({ writeOut: (text) => process.stdout.write(text), writeErr: () => {}, outputError: () => {} });
}

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
  return {
    key,
    lockId,
    connection: resolveConnectionConfig(pickDatabaseUrl(flags.databaseUrl, env), env),
    wait: flags.wait === true || timeoutMs !== undefined,
    timeoutMs,
    conflictExitCode: parseExitCode(flags.conflictExitCode),
    connectTimeoutMs: parseDuration(flags.connectTimeout, '--connect-timeout'),
    heartbeatMs: parseDuration(flags.heartbeat, '--heartbeat'),
    killAfterMs: parseDuration(flags.killAfter, '--kill-after'),
    command,
    verbosity,
    logFormat: parseLogFormat(flags.logFormat),
    shared: flags.shared === true,
    limit,
    fencingToken: flags.fencingToken === true,
    minIntervalMs,
    record: flags.record === true || flags.fencingToken === true || minIntervalMs !== undefined,
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
  return {
    connection: resolveConnectionConfig(pickDatabaseUrl(flags.databaseUrl, env), env),
    key: flags.key,
    json: flags.json === true,
    connectTimeoutMs: parseDuration(flags.connectTimeout, '--connect-timeout'),
    logFormat: parseLogFormat(flags.logFormat),
  };
}

function toKeyOptions(flags: KeyFlags, positional: string[]): KeyOptions {
  const [key] = positional; // commander refuses a second argument
  if (key === undefined || key === '') throw new UsageError('the lock key must not be empty');
  return { key, limit: flags.limit === undefined ? undefined : parseLimit(flags.limit), json: flags.json === true };
}

function parseLimit(text: string): number {
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > MAX_LIMIT) {
    throw new UsageError(`--limit must be a whole number from 1 to ${MAX_LIMIT}, got '${text}'`);
  }
  return Number(text);
}

function parseLogFormat(text: string): LogFormat {
  if (text !== 'text' && text !== 'json') throw new UsageError(`--log-format must be text or json, got '${text}'`);
  return text;
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
