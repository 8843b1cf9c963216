// The shipped CLI is the bundle bin/pglock.cjs runs with a V8 code cache: check that the cache made
// at build time is one this Node accepts (a rejected cache still works, only slower, so nothing
// else would notice), and that the bundle loads no more built-ins than it needs.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import t from 'tap';

const dist = (name: string) => fileURLToPath(new URL(`../../dist/${name}`, import.meta.url));

t.test('the code cache matches the bundle', async (t) => {
  const script = new Script(readFileSync(dist('pglock.cjs'), 'utf8'), { filename: dist('pglock.cjs'), cachedData: readFileSync(dist('pglock.cache')) });
  t.equal(script.cachedDataRejected, false, 'V8 accepted the cache');
});

t.test('tls and perf_hooks are not loaded by a run that does not need them', async (t) => {
  const bin = fileURLToPath(new URL('../../bin/pglock.cjs', import.meta.url));
  const probe = [
    "process.argv = [process.argv[0], 'pglock', '--version'];",
    'process.exit = () => {',
    '  const loaded = process.moduleLoadList;',
    "  console.error('LOADED ' + JSON.stringify(loaded));",
    '  process.reallyExit(0);',
    '};',
    `require(${JSON.stringify(bin)});`,
  ].join('\n');
  // A clean environment: tap's hooks (NODE_OPTIONS, coverage) preload modules of their own.
  const { stderr } = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  const line = stderr.split('\n').find((l) => l.startsWith('LOADED ')) ?? 'LOADED []';
  const loaded = (JSON.parse(line.slice('LOADED '.length)) as string[]).map((m) => m.replace('NativeModule ', ''));
  t.ok(loaded.includes('vm'), 'the probe ran the bundle (through bin/pglock.cjs, which loads vm)');
  t.notOk(loaded.includes('tls'), 'tls is loaded only when a server accepts TLS');
  t.notOk(loaded.includes('perf_hooks'), 'perf_hooks is not loaded');
});
