import t from 'tap';
import { judgeRun } from '../../src/cli/report/check-verdict.js';
import type { RunRecord } from '../../src/runs/index.js';

const run = (over: Partial<RunRecord>): RunRecord => ({
  lockId: 1n, key: 'k', fencingToken: 1n, startedAt: new Date('2026-01-01T00:00:00Z'), endedAt: new Date('2026-01-01T00:00:01Z'),
  ageMs: 60_000, host: 'h', pid: 1, outcome: 'exited', exitCode: 0, signal: null, ...over,
});

t.test('each verdict and its exit code', async (t) => {
  const hour = 3_600_000;
  const table: [RunRecord | undefined, boolean | null, boolean, string, number][] = [
    [undefined, false, false, 'never-ran', 4],
    [run({}), false, false, 'ok', 0],
    [run({ exitCode: 1 }), false, false, 'failed', 2],
    [run({ exitCode: 1 }), false, true, 'ok', 0],
    [run({ outcome: 'signaled', signal: 'SIGKILL', exitCode: null }), false, false, 'failed', 2],
    [run({ outcome: 'lock-lost' }), false, false, 'failed', 2],
    [run({ outcome: 'completed' }), false, false, 'ok', 0],
    [run({ ageMs: 2 * hour }), false, false, 'stale', 1],
    [run({ ageMs: 2 * hour, exitCode: 9 }), false, false, 'stale', 1],
    [run({ outcome: 'running', endedAt: null, exitCode: null }), true, false, 'ok', 0],
    [run({ outcome: 'running', endedAt: null, exitCode: null }), null, false, 'ok', 0],
    [run({ outcome: 'running', endedAt: null, exitCode: null, ageMs: 2 * hour }), true, false, 'overrunning', 3],
    [run({ outcome: 'running', endedAt: null, exitCode: null }), false, false, 'failed', 2],
    [run({ outcome: 'running', endedAt: null, exitCode: null, ageMs: 2 * hour }), false, false, 'stale', 1],
  ];
  for (const [record, holding, anyExit, verdict, code] of table) {
    const judged = judgeRun(record, holding, "'k'", hour, anyExit);
    t.equal(judged.verdict, verdict, `${JSON.stringify(record && { outcome: record.outcome, exitCode: record.exitCode, ageMs: record.ageMs })} holding=${holding} anyExit=${anyExit}`);
    t.equal(judged.exitCode, code);
    t.equal(judged.line.split('\n').length, 1);
  }
});
