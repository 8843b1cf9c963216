// Run the real built binary, as users do, and collect what it did.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// PGLOCK_TEST_BIN: run another copy instead, e.g. the bin of an installed package
// (scripts/package-test.sh runs the suite against the tarball installed with npm install -g).
export const PGLOCK_BIN = process.env.PGLOCK_TEST_BIN ? resolve(process.env.PGLOCK_TEST_BIN) : fileURLToPath(new URL('../../bin/pglock.cjs', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Start pglock in its own process group (so the test can signal the whole group). */
  detached?: boolean;
}

export interface Running {
  child: ChildProcess;
  result: Promise<RunResult>;
  /** Resolves when stderr has shown a line matching `pattern`. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stderrSoFar(): string;
}

// The environment of a hermetic run: the test's, without any database or pglock settings.
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || /^(PG|PGLOCK_)/.test(name) || name === 'DATABASE_URL') continue;
    env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export function startPglock(args: string[], options: RunOptions = {}): Running {
  const child = spawn(process.execPath, [PGLOCK_BIN, ...args], {
    env: cleanEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const stdout: Buffer[] = [];
  let stderr = '';
  const watchers: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const watcher of watchers.splice(0)) {
      if (watcher.pattern.test(stderr)) watcher.resolve();
      else watchers.push(watcher);
    }
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  else child.stdin?.end();
  const result = new Promise<RunResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(stdout), stderr }));
  });
  return {
    child,
    result,
    stderrSoFar: () => stderr,
    waitForStderr(pattern, timeoutMs = 20_000) {
      if (pattern.test(stderr)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in stderr: ${stderr}`)), timeoutMs);
        watchers.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
        void result.then(() => {
          clearTimeout(timer);
          if (pattern.test(stderr)) resolve();
          else reject(new Error(`pglock exited before ${pattern} appeared in stderr: ${stderr}`));
        });
      });
    },
  };
}

export function runPglock(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return startPglock(args, options).result;
}

/** Poll `check` until it returns true (or throw after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
