// The tools under test and how each one is invoked, exactly as a user would run it:
//   flock    /usr/bin/flock <lockfile> cmd...                 (util-linux; waits by default)
//   withlock node_modules/.bin/withlock --db URL <name> -- cmd (advisory-lock 2.0.0; always waits)
//   pglock   <package.json bin.pglock> -d URL -k <name> [--wait] -- cmd (this project; via its shebang)
// plus the floor every Node CLI pays: a bare `node` start-up.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
// The file npm links as `pglock`, wherever the package.json says it is.
export const PGLOCK_BIN = join(root, JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin.pglock);
export const WITHLOCK_BIN = join(root, 'node_modules/.bin/withlock');
export const FLOCK_BIN = '/usr/bin/flock';

/** Column order in every table. */
export const COLUMNS = ['node', 'flock', 'withlock', 'pglock'];
export const LABELS = { node: 'node -e 0', flock: 'flock', withlock: 'withlock', pglock: 'pglock' };

/**
 * The lock tools, bound to one database URL and one directory for flock's lock files.
 * lockTool.argv(key, command, { wait }) returns [file, args]; `wait` only matters for pglock
 * (flock and withlock always wait).
 */
export function lockTools({ url, withlockUrl = url, lockDir }) {
  const tools = {
    flock: { name: 'flock', argv: (key, command) => [FLOCK_BIN, [join(lockDir, `${safe(key)}.lock`), ...command]] },
    withlock: { name: 'withlock', argv: (key, command) => [WITHLOCK_BIN, ['--db', withlockUrl, key, '--', ...command]] },
    pglock: {
      name: 'pglock',
      argv: (key, command, { wait = false } = {}) => [PGLOCK_BIN, ['-d', url, '-k', key, ...(wait ? ['--wait'] : []), '--', ...command]],
    },
  };
  if (!isExecutable(FLOCK_BIN)) delete tools.flock;
  return tools;
}

/**
 * The environment for every tool: the given node first on PATH (pglock and withlock start via
 * `#!/usr/bin/env node`, and should run on the same node as the floor), C locale (bash's
 * $EPOCHREALTIME uses the locale's decimal point), and none of the PG..., PGLOCK_..., DATABASE_URL
 * variables that could change how a tool connects. NODE_EXTRA_CA_CERTS is removed too: Node parses
 * that file at every start, which users do not pay, and it flattered every ratio to `node -e 0`.
 */
export function toolEnv(node = process.execPath) {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(PG|PGLOCK_)|^(DATABASE_URL|PG_CONNECTION_STRING|DEBUG|NODE_EXTRA_CA_CERTS|NODE_OPTIONS)$/.test(name)) continue;
    env[name] = value;
  }
  env.PATH = `${dirname(node)}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  env.LC_ALL = 'C';
  return env;
}

/**
 * Each tool's version, for the record; throws when pglock cannot even print its version (not
 * built), so the bench fails early with a hint instead of with dozens of failed runs.
 */
export function toolVersions() {
  const versions = { pglock: run(PGLOCK_BIN, ['--version']) };
  versions.withlock = JSON.parse(readFileSync(join(root, 'node_modules/advisory-lock/package.json'), 'utf8')).version;
  if (isExecutable(FLOCK_BIN)) versions.flock = run(FLOCK_BIN, ['--version']).replace(/^flock from /, '');
  return versions;
}

function run(file, args) {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function safe(key) {
  return key.replace(/[^A-Za-z0-9_.-]/g, '_');
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
