// The library examples README and docs/library.md show (test/unit/docs.test.ts checks that they
// show these files), run as written against a real server: they must keep working and printing
// what the pages show.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { cleanEnv } from './helpers/run-pglock.js';
import { startTestServer } from './helpers/server.js';

const server = await startTestServer(t);
const example = fileURLToPath(new URL('../scripts/examples/services.mjs', import.meta.url));
const libraryExample = fileURLToPath(new URL('../scripts/examples/library.mjs', import.meta.url));

t.test('scripts/examples/services.mjs: a lock session, a transaction lock, an election', async (t) => {
  const result = spawnSync(process.execPath, [example], { env: cleanEnv({ DATABASE_URL: server.url }), encoding: 'utf8', timeout: 60_000 });
  t.equal(result.status, 0, result.stderr);
  t.equal(result.stderr, '');
  t.match(result.stdout, /^report: holding 'nightly-report' \(id 7440995589958059143\) on backend \d+$/m);
  t.match(result.stdout, /^import: the lock 'import' \(id -2791398027664323193\) is held by this lock session already \(pid \d+\): a session's locks do not stack$/m);
  t.match(result.stdout, /^invoice: total 42, lock released with the transaction$/m);
  t.match(result.stdout, /gold_leader: leading\ngold_leader: led by this process\ngold_leader: stepped down\n$/);
});

t.test('scripts/examples/library.mjs: withLock, and a lock session', async (t) => {
  const result = spawnSync(process.execPath, [libraryExample], { env: cleanEnv({ DATABASE_URL: server.url }), encoding: 'utf8', timeout: 60_000 });
  t.equal(result.status, 0, result.stderr);
  t.equal(result.stderr, '');
  t.match(result.stdout, /^report: ran at \d{4}-\d\d-\d\dT[\d:.]+Z; lock.signal aborts if the lock is lost\nimport: holding 'import' \(id -2791398027664323193\)\n$/);
});
