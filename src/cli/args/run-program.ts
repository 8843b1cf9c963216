import type { Env } from '../../connection/index.js';
import { parseDuration } from '../../duration.js';
import { UsageError } from '../../errors.js';
import { ExitCode } from '../../exit-codes.js';
import { MAX_LIMIT } from '../../key/lock-id.js';
import { resolveTakeover } from '../../lock/index.js';
import { DEFAULT_HISTORY } from '../../runs/index.js';
import { CONNECT_TIMEOUT, DATABASE_URL, HELP, LOG_FORMAT } from './common-flags.js';
import { resolveDatabaseUrl, resolveTarget } from './common-options.js';
import type { ParsedFlags, ProgramSpec } from './flag-spec.js';
import type { CommandSpec, RunOptions, Verbosity } from './options.js';
import { parseCount, parseExitCode, parseLimit, parseLogFormat, parseMaxRuntime, parsePositiveDuration, parseSignal } from './parse-values.js';

// `pglock [options] -- <command>`: the run program's table, and the RunOptions it makes.

export const RUN = {
  name: 'pglock',
  usage: "pglock [options] -- <command> [args...]\n       pglock [options] -c '<shell command line>'",
  description: 'Run a command while holding a PostgreSQL advisory lock: at most one runs per key, across all hosts.',
  operands: 'command',
  commandHelp: { name: 'command', description: 'the command to run and its arguments' },
  flags: [
    { name: 'key', short: 'k', value: '<name>', description: 'lock name, any non-empty string of at most 64 KiB, without NUL (env PGLOCK_KEY)' },
    { name: 'lock-id', value: '<int64>', description: 'use this raw 64-bit advisory lock id instead of a name' },
    {
      ...DATABASE_URL,
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
    {
      name: 'lock-delay',
      value: '<auto|duration>',
      description:
        'after a holder that was cut off (backend terminated, network cut, pglock killed, failover), start the command only once that holder must have stopped: auto waits its own recorded bound (2 heartbeats, the primary check, 1.2 x --kill-after + 0.5s); a duration waits that long instead; 0 never waits',
      default: 'auto',
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
} as const satisfies ProgramSpec;

export function toRunOptions(flags: ParsedFlags<typeof RUN>, positional: string[], env: Env): RunOptions {
  if (flags.verbose && flags.quiet) throw new UsageError('--verbose and --quiet cannot be used together');
  const { key, lockId } = resolveTarget(flags, env);
  const command = resolveCommand(flags.command, positional);
  const timeoutMs = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout');
  const verbosity: Verbosity = flags.verbose ? 'verbose' : flags.quiet ? 'quiet' : 'normal';
  const limit = flags.limit === undefined ? undefined : parseLimit(flags.limit);
  if (limit !== undefined && flags.shared) throw new UsageError('--limit and --shared cannot be used together');
  const minIntervalMs = flags.minInterval === undefined ? undefined : parsePositiveDuration(flags.minInterval, '--min-interval');
  if (minIntervalMs !== undefined && flags.shared) throw new UsageError('--min-interval and --shared cannot be used together (shared holders run together)');
  if (flags.transactionLock) {
    const other = limit !== undefined ? '--limit' : flags.fencingToken ? '--fencing-token' : minIntervalMs !== undefined ? '--min-interval' : flags.record ? '--record' : undefined;
    if (other) throw new UsageError(`--transaction-lock and ${other} cannot be used together (${other} needs a session lock)`);
  }
  const heartbeatMs = parseDuration(flags.heartbeat, '--heartbeat');
  const primaryCheckMs = flags.primaryCheck === undefined ? heartbeatMs : parseDuration(flags.primaryCheck, '--primary-check');
  const killAfterMs = parseDuration(flags.killAfter, '--kill-after');
  const lockDelay = flags.lockDelay === 'auto' ? 'auto' : parseDuration(flags.lockDelay, '--lock-delay');
  const stopWithinMs = cliStopWithinMs(primaryCheckMs, killAfterMs);
  // Settings that cannot keep the promise, refused before anything runs, in the flags' words.
  resolveTakeover({ lockDelay, stopWithinMs }, heartbeatMs, undefined, { heartbeat: '--heartbeat', delay: '--lock-delay' });
  return {
    key,
    lockId,
    connection: resolveDatabaseUrl(flags.databaseUrl, env),
    wait: flags.wait === true || timeoutMs !== undefined,
    timeoutMs,
    conflictExitCode: parseExitCode(flags.conflictExitCode),
    connectTimeoutMs: parseDuration(flags.connectTimeout, '--connect-timeout'),
    heartbeatMs,
    primaryCheckMs,
    killAfterMs,
    lockDelay,
    stopWithinMs,
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
    history: parseCount(flags.history, '--history', 0),
  };
}

// What a pglock run promises after its lock is lost, besides the heartbeat's two intervals: the
// primary check (its interval, and up to 2 s to connect) when it is on, then the stop: SIGTERM,
// SIGKILL after --kill-after (the watchdog counts it in 0.1 s sleeps of its own: 1.2 x), and 0.5 s
// for the signals to land. The holder record keeps it, for the takeover delay of the next holder.
function cliStopWithinMs(primaryCheckMs: number, killAfterMs: number): number {
  const check = primaryCheckMs > 0 ? primaryCheckMs + Math.min(primaryCheckMs, 2000) : 0;
  return check + Math.ceil(killAfterMs * 1.2) + 500;
}


// The command after -- (an argv, no shell), or -c's line for /bin/sh.
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
