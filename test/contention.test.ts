// 30 pglock processes started at once with --wait: every one runs exactly once, never two at once.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startTestServer, uniqueKey } from './helpers/server.js';
import { FIXTURES, runPglock } from './helpers/run-pglock.js';
import { maxOverlapMs, readSections } from './helpers/overlap.js';

const server = await startTestServer(t);

t.test('30 contenders with --wait: all run, no two overlap', async (t) => {
  const key = uniqueKey('thirty');
  const log = join(mkdtempSync(join(tmpdir(), 'pglock-contention-')), 'sections.log');
  const contenders = Array.from({ length: 30 }, (_, i) =>
    runPglock(['-d', server.url, '-k', key, '--wait', '--', process.execPath, join(FIXTURES, 'record.mjs'), log, `c${i}`, '20']));
  const results = await Promise.all(contenders);
  t.same(results.map((r) => r.code), Array(30).fill(0), 'every contender exited 0');
  const sections = readSections(log);
  t.equal(sections.length, 30, 'every child ran exactly once');
  t.equal(new Set(sections.map((s) => s.label)).size, 30, 'thirty distinct children');
  t.ok(maxOverlapMs(sections) <= 0, `no two critical sections overlapped (worst ${maxOverlapMs(sections).toFixed(3)} ms)`);
});
