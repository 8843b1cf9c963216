// For the package stage (test/stages/package.stage.ts): commands run as a user would, with no
// database or tap settings from this test's environment, and what the tarball may hold.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** This process's environment without database settings (but PGLOCK_TEST_*), tap's, or NODE_OPTIONS. */
export function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || name === 'NODE_OPTIONS' || /^(TAP|_TAPJS|TS_NODE)/.test(name)) continue;
    if ((/^PG/.test(name) && !name.startsWith('PGLOCK_TEST_')) || name === 'DATABASE_URL') continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  /** stdout and stderr together, in the order they came. */
  output: string;
}

/** The exit code and stdout alone, to compare exactly. */
export function exact(r: CommandResult): { code: number | null; stdout: string } {
  return { code: r.code, stdout: r.stdout };
}

export interface CommandOptions {
  cwd: string;
  env?: Record<string, string>;
  /** In a process group of its own, whose id (the child's pid) goes to this file. */
  groupFile?: string;
}

export function command(file: string, args: string[], options: CommandOptions): Promise<CommandResult> {
  return new Promise((resolve) => {
    const detached = options.groupFile !== undefined;
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? userEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached });
    if (options.groupFile && child.pid) writeFileSync(options.groupFile, `${child.pid}\n`);
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => ((stdout += chunk.toString()), (output += chunk.toString())));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => (output += `${error.message}\n`));
    child.on('close', (code) => resolve({ code, stdout: stdout.replace(/\n+$/, ''), output }));
  });
}

// The tarball may hold exactly these: the bin, the library (tsc's .js and .d.ts, but not dist/cli/:
// the CLI's modules are in the bundle), the bundle and its code cache, the docs, the man page, package.json.
const ALLOWED = /^(package\.json|README\.md|CHANGELOG\.md|LICENSE|man\/pglock\.1|docs\/[a-z-]+\.md|bin\/pglock\.cjs|dist\/pglock\.cjs|dist\/pglock\.cache|dist\/([a-z0-9-]+\/)*[a-z0-9-]+\.(js|d\.ts))$/;
const REQUIRED = ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'man/pglock.1', 'docs/connecting.md', 'bin/pglock.cjs',
  'dist/index.js', 'dist/index.d.ts', 'dist/pglock.cjs', 'dist/pglock.cache'];

/** What is wrong with the tarball's file list (paths without package/), one line each; none if nothing. */
export function tarballProblems(files: string[], repo: string): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const built = /^dist\/(.+)\.(js|d\.ts)$/.exec(file);
    if (!ALLOWED.test(file) || file.startsWith('dist/cli/')) problems.push(`not allowed in the package: ${file}`);
    // tsc does not delete the output of a source file that was moved or removed.
    else if (built && !existsSync(join(repo, 'src', `${built[1]}.ts`))) {
      problems.push(`stale build output, no src/${built[1]}.ts (rm -rf dist && npm run build): ${file}`);
    }
  }
  for (const file of REQUIRED) if (!files.includes(file)) problems.push(`missing from the package: ${file}`);
  return problems;
}
