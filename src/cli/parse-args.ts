import { Command, CommanderError } from 'commander';
import { type Env, pickDatabaseUrl, resolveConnectionConfig } from '../connection-config.js';
import { parseDuration } from '../duration.js';
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { lockIdForKey, parseLockId } from '../lock-id.js';
import type { CommandSpec, RunOptions, Verbosity } from './options.js';
import { readVersion } from './version.js';

export type ParseResult = { kind: 'run'; options: RunOptions } | { kind: 'exit'; code: number };

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
}

// The only module that knows about commander: argv in, a typed RunOptions out. Help and
// --version print to stdout because the user asked for them; no child runs then.
export function parseArgs(argv: string[], env: Env): ParseResult {
  const program = buildProgram();
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return { kind: 'exit', code: 0 };
      throw new UsageError(`${error.message.replace(/^error: /, '')} (see pglock --help)`);
    }
    throw error;
  }
  return { kind: 'run', options: toRunOptions(program.opts<RawFlags>(), program.args, env) };
}

function buildProgram(): Command {
  return new Command('pglock')
    .usage("[options] -- <command> [args...]\n       pglock [options] -c '<shell command line>'")
    .description('Run a command while holding a PostgreSQL advisory lock: at most one runs per key, across all hosts.')
    .option('-k, --key <name>', 'lock name, any non-empty string (env PGLOCK_KEY)')
    .option('--lock-id <int64>', 'use this raw 64-bit advisory lock id instead of a name')
    .option('-d, --database-url <url>', 'connection URL (else PGLOCK_DATABASE_URL, DATABASE_URL, then PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGSSLMODE)')
    .option('-w, --wait', 'wait until the lock is free (no time limit)')
    .option('-t, --timeout <duration>', 'wait at most this long, then give up (500ms, 30s, 5m, 1h); implies --wait')
    .option('-E, --conflict-exit-code <n>', 'exit code when the lock is not acquired', String(ExitCode.Conflict))
    .option('--connect-timeout <duration>', 'keep trying to connect, with backoff, for this long', '10s')
    .option('--heartbeat <duration>', 'check that the lock is still held this often', '5s')
    .option('--kill-after <duration>', 'after the lock is lost, SIGKILL the command if it is still running this long after SIGTERM', '10s')
    .option('-c, --command <string>', 'run the string with /bin/sh -c instead of an argv after --')
    .option('-v, --verbose', 'more messages on stderr')
    .option('-q, --quiet', 'only errors on stderr (not "lock busy")')
    .version(readVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show this help')
    .argument('[command...]', 'the command to run and its arguments')
    .passThroughOptions()
    .exitOverride()
    .configureOutput({ writeOut: (text) => process.stdout.write(text), writeErr: () => {}, outputError: () => {} });
}

function toRunOptions(flags: RawFlags, positional: string[], env: Env): RunOptions {
  if (flags.verbose && flags.quiet) throw new UsageError('--verbose and --quiet cannot be used together');
  const { key, lockId } = resolveKey(flags, env);
  const command = resolveCommand(flags.command, positional);
  const timeoutMs = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout');
  const verbosity: Verbosity = flags.verbose ? 'verbose' : flags.quiet ? 'quiet' : 'normal';
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
  };
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
