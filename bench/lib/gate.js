// The gate holder of the scale and budget measurements: one process that takes the lock and keeps
// it (its command blocks on a FIFO) until release(), so that the waiters queue up behind it first.
import { join } from 'node:path';
import { FifoSignalIn, FifoSignalOut } from './fifo.js';
import { describeExit, start, within } from './processes.js';

/**
 * Start `argv(command)` (a [file, args] for a lock tool running `command`) as the gate holder;
 * resolves once its command runs, i.e. it holds the lock. `name` keeps the FIFOs apart.
 */
export async function openGate({ argv, dir, env, name, timeoutMs }) {
  const ready = new FifoSignalIn(join(dir, `${name}-ready`));
  const go = new FifoSignalOut(join(dir, `${name}-go`));
  const [file, args] = argv(['sh', '-c', 'echo > "$1"; read _ < "$2"', 'sh', ready.path, go.path]);
  const holder = start(file, args, { env, captureStderr: true });
  const failed = holder.exited.then((exit) => Promise.reject(new Error(`the ${name} holder exited: ${describeExit(exit)}`)));
  failed.catch(() => {});
  try {
    await within(timeoutMs, Promise.race([ready.written, failed]), `the ${name} holder to take the lock`);
  } finally {
    ready.close();
  }
  return { exited: holder.exited, release: () => go.release(), close: () => go.close() };
}
