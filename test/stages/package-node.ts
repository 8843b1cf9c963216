// The package stage on one Node: the installed CLI and the consumer, then the end-to-end tap files
// against the installed bin (PGLOCK_TEST_BIN) with that Node first on PATH.
import { copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Test } from 'tap';
import { command, exact } from '../helpers/package.js';

export interface NodeCheck {
  node: string;
  work: string;
  repo: string;
  version: string;
  server: string;
  prefix: string;
  consumer: string;
  elsewhere: string;
  suite: string[];
  env: (extra?: Record<string, string>) => Record<string, string>;
}

export async function checkOnNode(t: Test, c: NodeCheck): Promise<void> {
  const nodeVersion = (await command(c.node, ['--version'], { cwd: c.elsewhere })).stdout;
  const major = nodeVersion.replace(/^v/, '').split('.')[0];
  const bin = join(c.prefix, 'lib', 'node_modules', 'pglock', 'bin', 'pglock.cjs');
  const run = (args: string[]) => command(c.node, args, { cwd: c.elsewhere, env: c.env({ CONSUMER_DATABASE_URL: c.server }) });
  t.same(exact(await run([bin, '--version'])), { code: 0, stdout: c.version }, `Node ${major}: <node> .../bin/pglock.cjs --version prints ${c.version}`);
  t.same(exact(await run([bin, '-d', c.server, '--key', `package-test-${major}`, '--', 'echo', 'locked-ok'])), { code: 0, stdout: 'locked-ok' },
    `Node ${major}: a locked run`);
  const consumer = await run([join(c.consumer, 'out', 'main.js')]);
  if (!t.same(exact(consumer), { code: 0, stdout: 'consumer-ok' }, `Node ${major}: the consumer runs (withLock, acquireLock, the busy error)`)) t.comment(consumer.output);
  // A CommonJS consumer (issue 28): require('pglock') of the installed tarball, as `npm init -y` makes one.
  copyFileSync(join(c.repo, 'test', 'fixtures', 'commonjs-consumer', 'index.cjs'), join(c.consumer, 'commonjs.cjs'));
  const commonjs = await command(c.node, [join(c.consumer, 'commonjs.cjs'), `package-commonjs-${major}`], { cwd: c.consumer, env: c.env({ DATABASE_URL: c.server }) });
  if (!t.match(commonjs.stdout, /^commonjs: .* held, select 1 gave 1; id -?\d+; busy exits 75; LockBusyError is function$/m, `Node ${major}: require('pglock') from CommonJS works`)) t.comment(commonjs.output);

  // test/unit/bundle.test.ts prints the Node its test process runs on: it must be this one (tap
  // spawns the test files with the node it runs on, here the first node on PATH).
  const files = c.suite.includes('test/unit/bundle.test.ts') ? c.suite : [...c.suite, 'test/unit/bundle.test.ts'];
  const began = Date.now();
  // In a process group of its own, so that no signal a test sends to its process group can reach
  // this file's test server (scripts/package-test.sh stops that group on an interrupt).
  const tap = await command(join(c.repo, 'node_modules', '.bin', 'tap'), ['--reporter=tap', '--disable-coverage', ...files], {
    cwd: c.repo,
    env: c.env({ PATH: `${dirname(c.node)}:${process.env.PATH ?? ''}`, PGLOCK_TEST_BIN: bin }),
    groupFile: join(c.work, 'suite.pgid'),
  });
  const counts = /^# (\{ total: [0-9]+.*)$/m.exec(tap.output.split('\n').filter((l) => l.startsWith('# { total:')).at(-1) ?? '')?.[1];
  t.comment(`Node ${major}: tap took ${Math.round((Date.now() - began) / 1000)}s`);
  t.ok(new RegExp(`^ +# running on Node ${nodeVersion.replace(/\./g, '\\.')} `, 'm').test(tap.output), `Node ${major}: tap's test processes run on ${nodeVersion}`);
  const failed = tap.output.split('\n').filter((l) => /^\s*not ok /.test(l)).slice(0, 20).join('\n');
  t.equal(tap.code, 0, `Node ${major}: tap, ${files.length} files, against the installed bin: ${counts ?? 'no summary'}${failed ? `\n${failed}` : ''}`);
  if (tap.code !== 0) t.comment(tap.output.split('\n').slice(-40).join('\n'));
}
