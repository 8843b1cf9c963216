import { type ChildProcess, spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { CommandSpec } from '../args/options.js';
import { WATCHDOG_DONE, launcherRunLine, withWatchdog } from './watchdog.js';

/** How the child ended: an exit code, a signal, or a failure to start it. */
export type ChildExit =
  | { kind: 'exited'; code: number }
  | { kind: 'signaled'; signal: string }
  | { kind: 'spawn-failed'; errno: string; message: string };

export interface RunningChild {
  readonly pid: number | undefined;
  /** True when the child has its own process group (signals go to the whole group). */
  readonly ownGroup: boolean;
  readonly exited: Promise<ChildExit>;
  /** Send a signal to the child (its whole group when it has one); no-op once it is gone. */
  kill(signal: NodeJS.Signals | string): void;
}

/** A launcher spawned ahead of the lock, waiting to exec the command. */
export interface PreparedChild {
  /** The lock is held: run the command (in a fresh launcher if the prepared one has died). */
  start(fencingToken?: bigint): RunningChild;
  /** The lock was not taken: the launcher exits and the command never runs. */
  cancel(): void;
}

export interface StartChildOptions {
  env: Record<string, string>;
  /** Put the child in its own process group, so group signals reach `sh -c` grandchildren. */
  ownGroup: boolean;
  /** With the watchdog: how long after SIGTERM it SIGKILLs the command if pglock has died. */
  killAfterMs: number;
}

// The command runs with stdio inherited (stdin too) and no shell unless the spec is a -c line,
// under the watchdog launcher (fd 3 is the watchdog's lifeline, fd 4 the go-ahead; see
// watchdog.ts). It is spawned with node's child_process rather than execa: pglock needs one spawn
// with inherited stdio and two pipes, and loading execa cost about 9 ms of every start.
export function prepareChild(command: CommandSpec, options: StartChildOptions): PreparedChild {
  let launcher: Launcher | undefined = spawnLauncher(command, options);
  return {
    start(fencingToken) {
      const ready = launcher && !launcher.gone() ? launcher : spawnLauncher(command, options);
      launcher = undefined;
      ready.go?.end(launcherRunLine(fencingToken));
      return ready.running;
    },
    cancel() {
      // The watchdog stands down, and the launcher sees EOF and exits without running anything.
      launcher?.lifeline?.end(WATCHDOG_DONE);
      launcher?.go?.end();
      launcher = undefined;
    },
  };
}

interface Launcher {
  running: RunningChild;
  /** fd 3 of the launcher: the watchdog's lifeline. */
  lifeline: Writable | null;
  /** fd 4 of the launcher: the go-ahead. */
  go: Writable | null;
  gone(): boolean;
}

function spawnLauncher(command: CommandSpec, options: StartChildOptions): Launcher {
  const launched = withWatchdog(command, { groupKill: options.ownGroup, killAfterMs: options.killAfterMs });
  const subprocess: ChildProcess = spawn(launched.file, launched.args, {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
    detached: options.ownGroup,
  });
  const lifeline = (subprocess.stdio[3] ?? null) as Writable | null;
  const go = (subprocess.stdio[4] ?? null) as Writable | null;
  // EPIPE when the launcher is already gone: its exit is reported through 'exit' below.
  lifeline?.on('error', () => undefined);
  go?.on('error', () => undefined);
  let running = subprocess.pid !== undefined;
  const exited = new Promise<ChildExit>((resolve) => {
    subprocess.once('error', (error: NodeJS.ErrnoException) => {
      running = false;
      resolve({ kind: 'spawn-failed', errno: error.code ?? 'UNKNOWN', message: error.message });
    });
    subprocess.once('exit', (code, signal) => {
      running = false;
      // Tell the watchdog all is well, so it exits without touching the finished command's group.
      // An end() on a pipe already ended (the go-ahead, after the command started) would only
      // build an error (with its stack trace) to discard.
      if (lifeline && !lifeline.writableEnded) lifeline.end(WATCHDOG_DONE);
      if (go && !go.writableEnded) go.end();
      resolve(signal ? { kind: 'signaled', signal } : { kind: 'exited', code: code ?? 0 });
    });
  });
  return {
    lifeline,
    go,
    gone: () => !running,
    running: {
      pid: subprocess.pid,
      ownGroup: options.ownGroup,
      exited,
      kill(signal) {
        if (!running || subprocess.pid === undefined) return;
        try {
          process.kill(options.ownGroup ? -subprocess.pid : subprocess.pid, signal);
        } catch {
          // ESRCH: already gone between the exit and our bookkeeping.
        }
      },
    },
  };
}
