// The package as users get it, the CI stage `package`: run by scripts/package-test.sh, which packs
// the tarball, installs it globally into a fresh prefix, installs it into the consumer project
// (test/fixtures/consumer/), fetches Node 22 and 24, and names it all in PGLOCK_PACKAGE_WORK:
//   pglock-<version>.tgz, prefix/ (npm install -g), consumer/, elsewhere/ (an unrelated directory),
//   nodes.txt (the node binaries to check on, this machine's first), suite.txt (the tap files).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { command, exact, tarballProblems, userEnv } from '../helpers/package.js';
import { canConnect, startTestServer } from '../helpers/server.js';
import { checkOnNode } from './package-node.js';

const work = process.env.PGLOCK_PACKAGE_WORK;
if (!work) {
  t.plan(0, 'PGLOCK_PACKAGE_WORK is not set: this file runs from bash scripts/package-test.sh, which packs and installs the package');
} else {
  const repo = new URL('../..', import.meta.url).pathname;
  const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
  const tarball = join(work, readdirSync(work).find((f) => /^pglock-.*\.tgz$/.test(f)) ?? 'no-tarball');
  const prefix = join(work, 'prefix');
  const consumer = join(work, 'consumer');
  const elsewhere = join(work, 'elsewhere');
  const tsc = join(repo, 'node_modules', '.bin', 'tsc');
  const server = await startTestServer(t, { own: true });
  t.comment(`test server on 127.0.0.1:${server.port}`);

  t.test('the tarball holds what users need and nothing else', async (t) => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, '')).sort();
    t.same(tarballProblems(files, repo), [], 'nothing missing, nothing extra, no stale build output');
    const sizes = execFileSync('tar', ['-tvzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((l) => l.split(/\s+/));
    for (const f of sizes.sort((a, b) => String(a[5]).localeCompare(String(b[5])))) t.comment(`${String(f[2]).padStart(10)}  ${String(f[5]).replace(/^package\//, '')}`);
    const unpacked = sizes.reduce((sum, f) => sum + Number(f[2]), 0);
    t.comment(`${tarball.split('/').at(-1)}: ${files.length} files, ${Math.floor(readFileSync(tarball).length / 1024)} KiB packed, ${Math.floor(unpacked / 1024)} KiB unpacked`);
  });

  t.test('npm install -g into a fresh prefix: the installed pglock, from an unrelated directory', async (t) => {
    const pglock = join(prefix, 'bin', 'pglock');
    const run = (args: string[]) => command(pglock, args, { cwd: elsewhere });
    t.ok(existsSync(pglock), 'npm install -g made a bin/pglock');
    t.ok(existsSync(join(prefix, 'share', 'man', 'man1', 'pglock.1')), 'npm install -g installs the man page (man pglock)');
    t.same(exact(await run(['--version'])), { code: 0, stdout: version }, `pglock --version prints ${version}`);
    t.same(exact(await run(['-d', server.url, '--key', 'k', '--', 'echo', 'locked-ok'])), { code: 0, stdout: 'locked-ok' }, 'pglock -d URL --key k -- echo locked-ok');
    const status = await run(['status', '-d', server.url]);
    if (!t.equal(status.code, 0, 'pglock status -d URL exits 0')) t.comment(status.output);
    t.equal((await run(['-d', server.url, '--key', 'k'])).code, 64, 'pglock with no command exits 64');
  });

  t.test('TypeScript consumer: type-check and build against the shipped .d.ts', async (t) => {
    // One tsc run both type-checks (it exits non-zero on any error, in main.ts or in a shipped
    // .d.ts: skipLibCheck is off) and emits out/main.js.
    const built = await command(tsc, ['-p', 'tsconfig.json'], { cwd: consumer });
    if (!t.equal(built.code, 0, 'tsc: the consumer type-checks against the shipped .d.ts, and builds')) t.comment(built.output);
    // tsc rejects bad.ts with one type error on each of its lines 3-6, and for no other reason.
    const bad = await command(tsc, ['-p', 'tsconfig.bad.json'], { cwd: consumer });
    const errors = bad.output.split('\n').filter((l) => /error TS/.test(l));
    if (!t.not(bad.code, 0, 'tsc rejects bad.ts (the shipped types are real, not any)')) t.comment(bad.output);
    for (const line of [3, 4, 5, 6]) t.ok(errors.some((e) => e.startsWith(`bad.ts(${line},`)), `a type error reported on bad.ts line ${line}`);
    t.same(errors.filter((e) => !/^bad\.ts\([3-6],/.test(e)), [], 'tsc fails for no other reason than the deliberate errors');
  });

  const nodes = readFileSync(join(work, 'nodes.txt'), 'utf8').split('\n').filter(Boolean);
  const suite = readFileSync(join(work, 'suite.txt'), 'utf8').split('\n').filter(Boolean);
  for (const node of nodes) {
    t.test(`on Node ${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()} (${node})`, async (t) => {
      // The server must live through the whole run: if it died, say so (a failure) and start it again.
      if (!t.ok(await canConnect(server.port), 'the test server is still up')) await server.start();
      await checkOnNode(t, { node, work, repo, version, server: server.url, prefix, consumer, elsewhere, suite, env: userEnv });
    });
  }
}
