// Chaos: several --wait contenders while whoever holds the lock has its backend terminated every
// half second (once its child has started: on a loaded machine a child can take longer than that
// to start, and a chaos run in which no child ever ran would prove nothing). Every contender must
// finish (0, or 70 when its lock was taken away), and no two children may overlap at all: each
// next holder waits out the cut-off one's bound (the takeover delay: 2 x 500 ms heartbeat, the
// primary check, 1.2 x 500 ms kill-after + 0.5 s, 3.1 s) before its child starts.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { lockIdForKey } from '../src/key/lock-id.js';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { FIXTURES, runPglock } from './helpers/run-pglock.js';
import { lockRows } from './helpers/locks.js';
import { maxOverlapMs, readSections } from './helpers/overlap.js';

const server = await startTestServer(t);

t.test('terminating the holder every 500 ms never lets two children overlap', async (t) => {
  const key = uniqueKey('chaos');
  const id = lockIdForKey(key);
  const log = join(mkdtempSync(join(tmpdir(), 'pglock-chaos-')), 'sections.log');
  const contenders = Array.from({ length: 8 }, (_, i) =>
    runPglock(['-d', server.url, '-k', key, '--wait', '--heartbeat', '500ms', '--kill-after', '500ms', '--', process.execPath, join(FIXTURES, 'record.mjs'), log, `c${i}`, '700']));
  let done = false;
  let terminations = 0;
  let startsAtLastTermination = 0;
  const starts = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((line) => line.startsWith('start')).length : 0);
  const all = Promise.all(contenders).finally(() => (done = true));
  while (!done) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const holder = (await lockRows(server.admin, id)).find((row) => row.granted);
    if (holder && !done && starts() > startsAtLastTermination) {
      startsAtLastTermination = starts();
      await server.admin`select pg_terminate_backend(${holder.pid})`;
      terminations++;
    }
  }
  const results = await all;
  const codes = results.map((r) => r.code);
  t.ok(codes.every((code) => code === 0 || code === 70), `every contender finished with 0 or 70: ${codes.join(' ')}`);
  t.ok(codes.includes(70), `some holders lost the lock (${terminations} backends terminated)`);
  for (const r of results.filter((x) => x.code === 70)) t.match(r.stderr, /lost the lock/, 'a 70 always says why');
  const sections = readSections(log);
  const overlap = maxOverlapMs(sections);
  // A holder can lose its backend before its child even starts; then that child never ran.
  t.ok(sections.length >= 1 && sections.length <= 8, `${sections.length} children ran, each at most once`);
  t.ok(sections.every((s) => Number.isFinite(s.start) && s.end >= s.start), 'every child that started recorded its end');
  const closest = Math.min(...sections.slice(1).map((s, i) => s.start - (sections[i]?.end ?? 0)));
  t.comment(`closest handoff: the next child started ${closest.toFixed(2)} ms after the previous one ended`);
  t.equal(overlap, 0, `no two children overlapped (worst overlap: ${overlap.toFixed(2)} ms)`);
  t.comment(`chaos: ${terminations} terminations, ${sections.length} children, worst overlap ${overlap.toFixed(2)} ms`);
});
