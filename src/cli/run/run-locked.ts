import { isatty } from 'node:tty';
import type { Lock } from '../../lock/index.js';
import { applicationName } from '../../connection/index.js';
import { watchPrimary } from '../../lock/primary-check.js';
import { formatDuration } from '../../duration.js';
import type { RunEnd } from '../../runs/index.js';
import { ExitCode, SIGNAL_EXIT_BASE } from '../../exit-codes.js';
import { type RunningChild, prepareChild } from './child.js';
import { describeExit, exitCodeForChild, runEnd } from './child-exit.js';
import { findExecutable } from './find-executable.js';
import type { Logger } from '../logger.js';
import type { RunOptions } from '../args/options.js';
import { runState } from './run-state.js';
import { armMaxRuntime, stopChild } from './stop-child.js';
import { type ForwardedSignal, isFromTerminal, signalNumber, trapSignals } from './signals.js';
import { logAcquired, takeLock } from './take-lock.js';

// pglock's life: connect and take the lock (a signal cancels the wait), run the child while
// holding it (signals are forwarded; losing the lock stops the child), release, report.
export async function runLocked(options: RunOptions, log: Logger): Promise<number> {
  const abortWait = new AbortController();
  let waitSignal: ForwardedSignal | undefined;
  let child: RunningChild | undefined;
  const untrap = trapSignals((signal) => {
    if (child) {
      if (!isFromTerminal(signal, !child.ownGroup)) child.kill(signal);
      return;
    }
    waitSignal ??= signal;
    abortWait.abort();
  });
  try {
    const lookup = findExecutable(options.command.file, process.env.PATH);
    if (!lookup.found) {
      log.error(`cannot run '${options.command.file}': ${lookup.errno === 'ENOENT' ? 'command not found' : 'permission denied (not an executable file)'}`);
      return lookup.errno === 'ENOENT' ? ExitCode.NotFound : ExitCode.CannotExecute;
    }
    // Connecting starts first; once the socket is connecting, the launcher is spawned, to exec the
    // command when the lock is granted. The spawn blocks Node for 10-15 ms (a fork of a 50 MB
    // process); done then, it overlaps the server's side of the handshake (accepting, starting a
    // backend) instead of adding to it, and the handoff to a waiter still costs a pipe write, not a
    // fork (issue 13). Exec'd by the path found above: no PATH search between the grant and the
    // command's start.
    const command = options.command.shell ? options.command : { ...options.command, file: lookup.path };
    const acquireStarted = Date.now();
    let connecting!: () => void;
    const started = new Promise<void>((resolve) => (connecting = resolve));
    const locking = settle(takeLock(options, log, abortWait.signal, connecting));
    await Promise.race([started, locking]);
    const prepared = prepareChild(command, { env: childEnv(options), ownGroup: !isatty(0), killAfterMs: options.killAfterMs });
    let lock: Lock | undefined;
    try {
      const taken = await locking;
      if ('error' in taken) throw taken.error;
      lock = taken.value;
    } finally {
      if (lock === undefined || waitSignal) prepared.cancel();
    }
    if (lock === undefined) return waitSignal ? signalExit(waitSignal, log) : options.conflictExitCode;
    if (waitSignal) {
      await lock.release({ end: { outcome: 'not-started' } });
      return signalExit(waitSignal, log);
    }
    let lostReason: string | undefined;
    child = prepared.start(lock.fencingToken);
    runState.commandStarted = true;
    logAcquired(lock, options, acquireStarted, log);
    log.info(`running ${options.command.shell ? 'sh -c' : options.command.file} (pid ${child.pid ?? '-'})`, { childPid: child.pid });
    const running = child;
    void lock.lost.then((error) => {
      lostReason = error.message;
      log.error(`${error.message}; stopping the command (${options.killSignal}, SIGKILL after ${formatDuration(options.killAfterMs)})`, { code: error.code });
      stopChild(running, options.killAfterMs, options.killSignal);
    });
    const primary = options.primaryCheckMs > 0 ? watchPrimary(lock, options.connection, {
      intervalMs: options.primaryCheckMs,
      applicationName: applicationName(`pglock-check:${options.key ?? String(options.lockId)}`),
      onSuperseded: (reason) => lock!.abandon(`superseded: ${reason}`),
      onInconclusive: (reason) => log.info(reason),
    }) : undefined;
    const maxRuntime = armMaxRuntime(running, options, log);
    const exit = await child.exited;
    maxRuntime.disarm();
    primary?.stop();
    if (lostReason !== undefined) {
      log.error(`the command was stopped because the lock was lost (${describeExit(exit)}); exiting ${ExitCode.LockLost}`, { exitCode: ExitCode.LockLost });
      await lock.release().catch(() => undefined);
      return ExitCode.LockLost;
    }
    if (maxRuntime.timedOut) {
      await releaseQuietly(lock, { outcome: 'timed-out' }, log);
      log.error(`the command was stopped by --max-runtime (${describeExit(exit)}); lock released; exiting ${ExitCode.TimedOut}`, { exitCode: ExitCode.TimedOut });
      return ExitCode.TimedOut;
    }
    await releaseQuietly(lock, runEnd(exit), log);
    const code = exitCodeForChild(exit);
    if (exit.kind === 'spawn-failed') log.error(`cannot run '${options.command.file}': ${exit.message}`, { exitCode: code });
    else log.info(`command ${describeExit(exit)}; lock released`, { exitCode: code });
    return code;
  } finally {
    untrap();
  }
}

// A promise that never rejects (its failure is a value), so nothing is unhandled while it runs
// alongside the spawn.
function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then((value) => ({ value }), (error: unknown) => ({ error }));
}

async function releaseQuietly(lock: Lock, end: RunEnd, log: Logger): Promise<void> {
  try {
    // pglock exits right after: once the unlock is confirmed, it need not wait for the socket.
    await lock.release({ waitForClose: false, end });
  } catch (error) {
    log.warn(`could not release the lock cleanly (${(error as Error).message}); closing the session releases it`);
  }
}

function signalExit(signal: ForwardedSignal, log: Logger): number {
  const code = SIGNAL_EXIT_BASE + signalNumber(signal);
  log.notice(`received ${signal} before the lock was acquired; the command did not run`, { signal, exitCode: code });
  return code;
}

function childEnv(options: RunOptions): Record<string, string> {
  // The key whole: it is at most 64 KiB (key/check-key.ts, checked before connecting), well within
  // Linux's 128 KiB for one environment string, so the spawn cannot fail with E2BIG (issue 28).
  return { PGLOCK_KEY: options.key ?? '', PGLOCK_LOCK_ID: String(options.lockId) };
}
