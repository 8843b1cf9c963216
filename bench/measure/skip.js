// 7. What a skipped run costs (issue 11): a cron fleet's every host but one skips each tick.
// pglock only, alternating case by case round by round, `-- true` each time:
//   run            the lock is free, no run record (the plain run of run-once)
//   run --record   the lock is free, the run recorded: its start, and its end with the unlock
//   run --record, history full   the same for a key that already has its 100 kept runs, so that
//                  every run also prunes the oldest (in the same statement as the start)
//   skip busy      fail fast: another pglock holds the lock (exit 75)
//   skip recent    --min-interval 1d: nobody holds the lock, the last run is recent (exit 75)
// Wall time from spawn to exit, directly against the server; then one more run of each case
// through a counting proxy, which counts the connections and the statements (Query messages: every
// pglock statement is one simple-protocol Query, one round trip) that the case sends.
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import { describeExit, start } from '../lib/processes.js';
import { rotate } from '../lib/rounds.js';
import { msBetween, summarize } from '../lib/stats.js';
import { PGLOCK_BIN } from '../lib/tools.js';
import postgres from 'postgres';

const KEY = 'bench:skip';

export async function measureSkip({ url, env, config, progress }) {
  const { runs, warmups } = config;
  const cases = {
    run: { args: ['-k', `${KEY}:free`], expect: 0 },
    'run --record': { args: ['-k', `${KEY}:record`, '--record'], expect: 0 },
    'run --record, history full': { args: ['-k', `${KEY}:history`, '--record'], expect: 0 },
    'skip busy': { args: ['-k', `${KEY}:busy`], expect: 75 },
    'skip recent': { args: ['-k', `${KEY}:recent`, '--min-interval', '1d'], expect: 75 },
  };
  const problems = [];
  const holder = start(PGLOCK_BIN, ['-d', url, '-k', `${KEY}:busy`, '--', 'sleep', '3600'], { env, captureStderr: true });
  const seeded = await start(PGLOCK_BIN, ['-d', url, '-k', `${KEY}:recent`, '--min-interval', '1d', '--', 'true'], { env, captureStderr: true }).exited;
  if (seeded.code !== 0) problems.push(`skip: seeding the recent run: ${describeExit(seeded)}`);
  await seedHistory(url, `${KEY}:history`, env, problems);
  await new Promise((resolve) => setTimeout(resolve, 500)); // the holder has the lock by now
  try {
    const names = Object.keys(cases);
    const samples = Object.fromEntries(names.map((name) => [name, []]));
    for (let round = 0; round < warmups + runs; round++) {
      for (const name of rotate(names, round)) {
        const run = start(PGLOCK_BIN, ['-d', url, ...cases[name].args, '--', 'true'], { env, captureStderr: true });
        const exit = await run.exited;
        if (exit.code !== cases[name].expect) problems.push(`skip ${name}: expected exit ${cases[name].expect}, ${describeExit(exit)}`);
        else if (round >= warmups) samples[name].push(msBetween(run.started, exit.at));
      }
      progress(`skip: round ${round + 1}/${warmups + runs}${round < warmups ? ' (warm-up)' : ''}`);
    }
    const counts = {};
    for (const name of names) counts[name] = await countThroughProxy(url, env, cases[name], problems, name);
    const summary = Object.fromEntries(names.map((name) => [name, { ...summarize(samples[name]), ...counts[name] }]));
    return { samples, summary, problems };
  } finally {
    holder.child.kill('SIGTERM');
    await holder.exited;
  }
}

// A key with a full history (100 kept runs): one recorded run creates the table, then 99 older
// rows below its token.
async function seedHistory(url, key, env, problems) {
  const first = await start(PGLOCK_BIN, ['-d', url, '-k', key, '--record', '--', 'true'], { env, captureStderr: true }).exited;
  if (first.code !== 0) problems.push(`skip: seeding the history: ${describeExit(first)}`);
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await sql.unsafe(`insert into public.pglock_runs (lock_id, key, fencing_token, started_at, ended_at, host, pid, outcome, exit_code)
      select r.lock_id, r.key, r.fencing_token - g, r.started_at - g * interval '1 day', r.started_at - g * interval '1 day', 'bench', 1, 'exited', 0
      from public.pglock_runs r, generate_series(1, 99) g where r.key = '${key}'`);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

// One run through a TCP proxy that counts what the client sends after its startup message.
async function countThroughProxy(url, env, { args, expect }, problems, name) {
  const target = new URL(url);
  const counted = { connections: 0, statements: 0 };
  const proxy = createServer((client) => {
    counted.connections++;
    const server = connect({ host: target.hostname, port: Number(target.port || 5432) });
    let buffer = Buffer.alloc(0);
    let started = false;
    client.on('data', (chunk) => {
      server.write(chunk);
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 4) break;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) break;
          // An SSLRequest or GSSENCRequest comes before the startup message itself.
          const code = buffer.readInt32BE(4);
          started = code !== 80877103 && code !== 80877104;
          buffer = buffer.subarray(length);
          continue;
        }
        if (buffer.length < 5) break;
        const length = buffer.readInt32BE(1);
        if (buffer.length < 1 + length) break;
        if (buffer[0] === 0x51) counted.statements++; // 'Q'
        buffer = buffer.subarray(1 + length);
      }
    });
    server.on('data', (chunk) => client.write(chunk));
    const close = () => {
      client.destroy();
      server.destroy();
    };
    client.on('close', close).on('error', close);
    server.on('close', close).on('error', close);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const via = new URL(url);
  via.hostname = '127.0.0.1';
  via.port = String(proxy.address().port);
  try {
    const exit = await start(PGLOCK_BIN, ['-d', via.href, ...args, '--', 'true'], { env, captureStderr: true }).exited;
    if (exit.code !== expect) problems.push(`skip ${name} (counted): expected exit ${expect}, ${describeExit(exit)}`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // a closing session's last bytes
    return counted;
  } finally {
    proxy.close();
  }
}
