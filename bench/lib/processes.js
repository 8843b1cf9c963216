// Every process the bench starts goes through start(), so that an interrupted run can kill what
// is still alive (killAll, stopAll) and every exit is timestamped by the same clock.
import { spawn } from 'node:child_process';

const live = new Set();
let stopped = false;

/**
 * Start `file args` without a shell. Returns the ChildProcess plus `started` (hrtime before the
 * spawn call) and `exited`, a promise of { code, signal, at, stderr } that never rejects: a
 * failure to spawn comes back as code null with the error message in stderr.
 * stderr is kept (its last 2 kB) only with captureStderr, for error messages; stdout is always
 * discarded (withlock prints "Lock acquired" and the command there).
 */
export function start(file, args, { env, captureStderr = false, captureStdout = false } = {}) {
  if (stopped) throw new Error('the bench is shutting down');
  const started = process.hrtime.bigint();
  const child = spawn(file, args, { env, stdio: ['ignore', captureStdout ? 'pipe' : 'ignore', captureStderr ? 'pipe' : 'ignore'] });
  live.add(child);
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-2048);
  });
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  const exited = new Promise((resolve) => {
    child.once('error', (error) => {
      live.delete(child);
      resolve({ code: null, signal: null, at: process.hrtime.bigint(), stderr: error.message });
    });
    // 'exit' rather than 'close': the moment the process ends, not when its pipes drain.
    child.once('exit', (code, signal) => {
      const at = process.hrtime.bigint();
      live.delete(child);
      // Getters: the pipes can still be draining when 'exit' fires. A caller that needs all of
      // stdout waits for 'close' (see `closed`).
      resolve({ code, signal, at, get stderr() { return stderr.trim(); }, get stdout() { return stdout; } });
    });
  });
  const closed = new Promise((resolve) => child.once('close', resolve));
  return { child, pid: child.pid, started, exited, closed };
}

/** SIGKILL every process start() launched that has not exited yet (for Ctrl-C and errors). */
export function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** killAll, and refuse to start anything from now on (the measurement loop may still be running). */
export function stopAll() {
  stopped = true;
  killAll();
}

/** A short description of a bad exit, for problem reports. */
export function describeExit({ code, signal, stderr }) {
  const how = signal ? `killed by ${signal}` : code === null ? 'failed to start' : `exit ${code}`;
  return stderr ? `${how}: ${stderr.split('\n').slice(-2).join(' | ')}` : how;
}

/** Resolve `promise`, or reject when `ms` pass first (so a stuck tool cannot hang the bench). */
export function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
