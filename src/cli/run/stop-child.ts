import { formatDuration } from '../../duration.js';
import type { RunningChild } from './child.js';
import type { Logger } from '../logger.js';

// Stopping the command before it ends by itself: when the lock is lost, and at --max-runtime.

/** The kill signal to the child's group, then SIGKILL if it outlives killAfter. */
export function stopChild(child: RunningChild, killAfterMs: number, signal: NodeJS.Signals): void {
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  void child.exited.then(() => clearTimeout(timer));
}

export interface MaxRuntime {
  /** True once the command ran past its time and was told to stop. */
  readonly timedOut: boolean;
  /** The command has exited: no timer left behind. */
  disarm(): void;
}

/** --max-runtime: stop the command once it has run `maxRuntimeMs` (undefined: never). */
export function armMaxRuntime(child: RunningChild, options: { maxRuntimeMs: number | undefined; killAfterMs: number; killSignal: NodeJS.Signals }, log: Logger): MaxRuntime {
  const state = { timedOut: false, disarm: () => clearTimeout(timer) };
  const { maxRuntimeMs, killAfterMs, killSignal } = options;
  const timer = maxRuntimeMs === undefined ? undefined : setTimeout(() => {
    state.timedOut = true;
    log.error(`the command has run for --max-runtime ${formatDuration(maxRuntimeMs)}; stopping it (${killSignal}, SIGKILL after ${formatDuration(killAfterMs)})`, { code: 'ETIMEDOUT' });
    stopChild(child, killAfterMs, killSignal);
  }, maxRuntimeMs);
  return state;
}
