// The shipped CLI is the bundle bin/pglock.cjs runs with a V8 code cache: check that the cache made
// at build time is one this Node accepts (a rejected cache still works, only slower, so nothing
// else would notice), and that the bundle loads no more built-ins than it needs. The copy checked is
// the one the end-to-end tests run: the repo's, or PGLOCK_TEST_BIN's (an installed package).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import t from 'tap';
import { PGLOCK_BIN } from '../helpers/run-pglock.js';

const dist = (name: string) => join(dirname(PGLOCK_BIN), '..', 'dist', name);

// A V8 code cache starts with a magic number and a hash of the V8 version (then the source hash and
// the flag hash). Another V8 rejects the cache by design, e.g. the package built on Node 20 and run
// on Node 22: that is expected, and the CLI then compiles as usual. Compare those first 8 bytes with
// a cache this V8 makes.
const V8_HEADER_BYTES = 8;
const cache = readFileSync(dist('pglock.cache'));
const thisV8 = new Script('0').createCachedData().subarray(0, V8_HEADER_BYTES);
const madeByAnotherV8 = !cache.subarray(0, V8_HEADER_BYTES).equals(thisV8);
// scripts/package-test.sh reads this line to know which Node tap's test processes ran on.
t.comment(`running on Node ${process.version} (V8 ${process.versions.v8})`);

t.test('the code cache matches the bundle', {
  skip: madeByAnotherV8 && `the code cache was made by another V8 than this Node's (${process.version}, V8 ${process.versions.v8}); V8 rejects it by design, and the CLI compiles without it`,
}, async (t) => {
  const script = new Script(readFileSync(dist('pglock.cjs'), 'utf8'), { filename: dist('pglock.cjs'), cachedData: cache });
  t.equal(script.cachedDataRejected, false, 'V8 accepted the cache');
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
