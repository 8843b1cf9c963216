import { execa } from 'execa';
import { ExitCode, SIGNAL_EXIT_BASE } from '../exit-codes.js';
import type { CommandSpec } from './options.js';
import { signalNumber } from './signals.js';
import { WATCHDOG_DONE, withWatchdog } from './watchdog.js';

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

export interface StartChildOptions {
  env: Record<string, string>;
  /** Put the child in its own process group, so group signals reach `sh -c` grandchildren. */
  ownGroup: boolean;
  /** With the watchdog: how long after SIGTERM it SIGKILLs the command if pglock has died. */
  killAfterMs: number;
}

// Spawn the command with stdio inherited (stdin too), no shell unless the spec is a -c line, under
// the watchdog launcher (fd 3 is its lifeline to pglock). execa's own cleanup and force-kill are
// off: pglock decides when the child is signalled.
export function startChild(command: CommandSpec, options: StartChildOptions): RunningChild {
  const launched = withWatchdog(command, { groupKill: options.ownGroup, killAfterMs: options.killAfterMs });
  const subprocess = execa(launched.file, launched.args, {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: options.env,
    extendEnv: true,
    reject: false,
    cleanup: false,
    forceKillAfterDelay: false,
    detached: options.ownGroup,
    stripFinalNewline: false,
  });
  let running = subprocess.pid !== undefined;
  const lifeline = subprocess.stdio[3] as unknown as NodeJS.WritableStream | undefined;
  // The watchdog holds the other end of the lifeline, and execa resolves only once every stdio
  // stream has closed: tell the watchdog on 'exit', or the two would wait for each other.
  subprocess.once('exit', () => lifeline?.end(WATCHDOG_DONE));
  const exited = subprocess.then((result): ChildExit => {
    running = false;
    if (result.signal) return { kind: 'signaled', signal: result.signal };
    if (typeof result.exitCode === 'number') return { kind: 'exited', code: result.exitCode };
    return { kind: 'spawn-failed', errno: result.code ?? 'UNKNOWN', message: (result.shortMessage ?? '').split('\n').pop() ?? '' };
  });
  return {
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
  };
}

/** The exit code pglock passes on: the child's code, 128+N for signal N, 126/127 for spawn failures. */
export function exitCodeForChild(exit: ChildExit): number {
  switch (exit.kind) {
    case 'exited':
      return exit.code;
    case 'signaled':
      return SIGNAL_EXIT_BASE + signalNumber(exit.signal);
    case 'spawn-failed':
      return exit.errno === 'ENOENT' ? ExitCode.NotFound : ExitCode.CannotExecute;
  }
}
