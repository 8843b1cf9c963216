import { ExitCode, SIGNAL_EXIT_BASE } from '../../exit-codes.js';
import type { RunEnd } from '../../runs/index.js';
import type { ChildExit } from './child.js';
import { signalNumber } from './signals.js';

// What the child's end means: the exit code pglock passes on, the run record's outcome, and the
// words for the log.

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

// How the run ended, for the run record. A command that could not start does not count as a run.
export function runEnd(exit: ChildExit): RunEnd {
  if (exit.kind === 'exited') return { outcome: 'exited', exitCode: exit.code };
  if (exit.kind === 'signaled') return { outcome: 'signaled', signal: exit.signal };
  return { outcome: 'not-started' };
}

/** `exited with 3`, `was killed by SIGTERM`, `could not start (ENOENT)`. */
export function describeExit(exit: ChildExit): string {
  if (exit.kind === 'exited') return `exited with ${exit.code}`;
  if (exit.kind === 'signaled') return `was killed by ${exit.signal}`;
  return `could not start (${exit.errno})`;
}
