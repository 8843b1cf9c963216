// The shipped CLI is the bundle bin/pglock.cjs runs with a V8 code cache: check that this Node runs
// it from a cache it accepts (a rejected cache still works, only slower, so nothing else would
// notice), and that the bundle loads no more built-ins than it needs. The copy checked is
// the one the end-to-end tests run: the repo's, or PGLOCK_TEST_BIN's (an installed package).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import t from 'tap';
import { PGLOCK_BIN } from '../helpers/run-pglock.js';

const dist = (name: string) => join(dirname(PGLOCK_BIN), '..', 'dist', name);

// dist/pglock.cache is made at build time, for the V8 of the Node that built it; the bundle's first
// line names that V8. On any other Node, bin/pglock.cjs makes a cache of its own on the first run,
// in $XDG_CACHE_HOME/pglock (else ~/.cache/pglock), and uses it from then on.
const source = readFileSync(dist('pglock.cjs'), 'utf8');
const builtHere = source.startsWith(`/*v8 ${process.versions.v8}*/`);
// scripts/package-test.sh reads this line to know which Node tap's test processes ran on.
t.comment(`running on Node ${process.version} (V8 ${process.versions.v8}); dist/pglock.cache made by ${source.slice(2, source.indexOf('*/'))}`);

t.test('this Node runs the CLI from a code cache it accepts: the build\'s, or one it made on its first run', async (t) => {
  const cacheHome = mkdtempSync(join(tmpdir(), 'pglock-cache-home-'));
  const run = (env: Record<string, string>) => spawnSync(process.execPath, [PGLOCK_BIN, '--version'], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '', ...env } });
  t.equal(run({ XDG_CACHE_HOME: cacheHome }).status, 0, 'first run');
  const made = existsSync(join(cacheHome, 'pglock')) ? readdirSync(join(cacheHome, 'pglock')).filter((name) => name.endsWith('.cache')) : [];
  let cache: Buffer;
  if (builtHere) {
    t.same(made, [], 'built by this V8: the build\'s cache is used and no other is made');
    cache = readFileSync(dist('pglock.cache'));
  } else {
    t.equal(made.length, 1, `another V8 built the package: this Node made its own cache (${made.join(', ')})`);
    t.match(made[0], new RegExp(`^pglock-v8-${process.versions.v8.replace(/\./g, '\\.')}-${process.arch}-\\d+-\\d+\\.cache$`));
    cache = readFileSync(join(cacheHome, 'pglock', made[0]!));
  }
  const script = new Script(source, { filename: dist('pglock.cjs'), cachedData: cache });
  t.equal(script.cachedDataRejected, false, 'V8 accepts the cache');
  for (const unwritable of ['/proc/pglock-cannot-write-here', '/dev/null/not-a-directory']) {
    const readOnly = run({ XDG_CACHE_HOME: unwritable });
    t.same([readOnly.status, readOnly.stderr], [0, ''], `a cache directory that cannot be written is no error (${unwritable})`);
  }
  t.equal(run({ XDG_CACHE_HOME: '', HOME: '' }).status, 0, 'nor is having no cache directory at all');
});

t.test('tls and perf_hooks are not loaded by a run that does not need them', async (t) => {
  const probe = [
    "process.argv = [process.argv[0], 'pglock', '--version'];",
    'process.exit = () => {',
    '  const loaded = process.moduleLoadList;',
    "  console.error('LOADED ' + JSON.stringify(loaded));",
    '  process.reallyExit(0);',
    '};',
    `require(${JSON.stringify(PGLOCK_BIN)});`,
  ].join('\n');
  // A clean environment: tap's hooks (NODE_OPTIONS, coverage) preload modules of their own.
  const { stderr } = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  const line = stderr.split('\n').find((l) => l.startsWith('LOADED ')) ?? 'LOADED []';
  const loaded = (JSON.parse(line.slice('LOADED '.length)) as string[]).map((m) => m.replace('NativeModule ', ''));
  t.ok(loaded.includes('vm'), 'the probe ran the bundle (through bin/pglock.cjs, which loads vm)');
  t.notOk(loaded.includes('tls'), 'tls is loaded only when a server accepts TLS');
  t.notOk(loaded.includes('perf_hooks'), 'perf_hooks is not loaded');
});
