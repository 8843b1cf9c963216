#!/usr/bin/env node
// `npm run demo`: a throwaway PostgreSQL (scripts/lib/throwaway-postgres.js) and three real pglock processes on one key:
// A takes the lock and works for 3 s, B fails fast (exit 75) and is told who holds it, C waits,
// `pglock status` shows the holder and the waiter, and C runs right after A.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createCluster } from './lib/throwaway-postgres.js';

const bin = fileURLToPath(new URL('../bin/pglock.cjs', import.meta.url));
const started = Date.now();
const stamp = () => `+${((Date.now() - started) / 1000).toFixed(2)}s`.padStart(7);
const say = (text) => console.log(`${stamp()}  ${text}`);

// Any failure of the demo itself is one line, never a stack trace.
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

const pg = await createCluster({ label: 'demo' });
say(`starting a throwaway PostgreSQL on 127.0.0.1:${pg.port}`);
const env = { ...process.env, PGLOCK_DATABASE_URL: pg.url };

try {
  await pg.start();
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
  await pg.close();
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

function fail(error) {
  process.stderr.write(`demo failed: ${error?.message ?? error}\n`);
  process.exit(1);
}
