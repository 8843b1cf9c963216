import { type AdvisoryLockRow, slotOf } from '../../sql/holders.js';
import { lockIdForKey } from '../../key/lock-id.js';
import type { RunRecord } from '../../runs/index.js';
import { runSucceeded } from './check-verdict.js';

// `pglock status --format prometheus`: the text exposition format (version 0.0.4), for the
// node_exporter textfile collector. Per key: its last run's start, end, duration, exit code and
// success, when it last succeeded, and its holders and waiters now. Names follow Prometheus'
// naming guide: a `pglock_` prefix, base units (seconds), `_timestamp_seconds` for Unix times.

interface Family {
  name: string;
  help: string;
  samples: { labels: string; value: number }[];
}

/**
 * The exposition text. `lastRuns`: the last run of each key; `history`: every kept run (for the
 * last success); `locks`: the advisory locks now.
 */
export function renderMetrics(lastRuns: RunRecord[], history: RunRecord[], locks: AdvisoryLockRow[]): string {
  const families: Family[] = [
    family('pglock_last_run_start_timestamp_seconds', "When the key's last recorded run started, by the database's clock (Unix time)."),
    family('pglock_last_run_end_timestamp_seconds', "When the key's last recorded run ended (absent while running or when its end was never recorded)."),
    family('pglock_last_run_duration_seconds', "How long the key's last recorded run took (absent while running)."),
    family('pglock_last_run_exit_code', "The exit code of the key's last recorded run (absent when it did not exit with one)."),
    family('pglock_last_run_success', "1 if the key's last finished run succeeded (exited 0), 0 if it failed; absent while it runs."),
    family('pglock_last_run_running', "1 while the key's last recorded run has no recorded end, else 0."),
    family('pglock_last_success_timestamp_seconds', 'When the last successful kept run of the key ended (Unix time).'),
    family('pglock_holders', "Sessions holding the key's lock (or its --limit slots) now."),
    family('pglock_waiters', "Sessions waiting for the key's lock (or its --limit slots) now."),
  ];
  const [start, end, duration, exitCode, success, running, lastSuccess, holders, waiters] = families as [Family, Family, Family, Family, Family, Family, Family, Family, Family];
  const keys = new Map<string, { key: string | null; id: bigint }>();
  for (const run of lastRuns) keys.set(String(run.lockId), { key: run.key, id: run.lockId });
  for (const row of locks) if (row.key !== null && row.slot !== null) keys.set(String(lockIdForKey(row.key)), { key: row.key, id: lockIdForKey(row.key) });
  for (const [id, { key }] of keys) {
    const labels = `key="${escapeLabel(key ?? '')}",lock_id="${id}"`;
    const run = lastRuns.find((candidate) => String(candidate.lockId) === id);
    if (run) {
      start.samples.push({ labels, value: run.startedAt.getTime() / 1000 });
      if (run.endedAt !== null) {
        end.samples.push({ labels, value: run.endedAt.getTime() / 1000 });
        duration.samples.push({ labels, value: Math.max(0, run.endedAt.getTime() - run.startedAt.getTime()) / 1000 });
      }
      if (run.exitCode !== null) exitCode.samples.push({ labels, value: run.exitCode });
      if (run.outcome !== 'running') success.samples.push({ labels, value: runSucceeded(run) ? 1 : 0 });
      running.samples.push({ labels, value: run.outcome === 'running' ? 1 : 0 });
      const succeeded = history.find((candidate) => String(candidate.lockId) === id && candidate.endedAt !== null && runSucceeded(candidate));
      if (succeeded?.endedAt) lastSuccess.samples.push({ labels, value: succeeded.endedAt.getTime() / 1000 });
    }
    const ofKey = locks.filter((row) => /^-?\d+$/.test(row.lockId) && slotOf(BigInt(row.lockId), BigInt(id)) !== null);
    holders.samples.push({ labels, value: ofKey.filter((row) => row.granted && slotOf(BigInt(row.lockId), BigInt(id))! >= 0).length });
    waiters.samples.push({ labels, value: ofKey.filter((row) => !row.granted || slotOf(BigInt(row.lockId), BigInt(id)) === -1).length });
  }
  return families
    .filter((f) => f.samples.length > 0)
    .map((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} gauge`, ...f.samples.map((s) => `${f.name}{${s.labels}} ${s.value}`)].join('\n'))
    .join('\n') + '\n';
}

function family(name: string, help: string): Family {
  return { name, help, samples: [] };
}

// The exposition format's label escapes: backslash, double quote, line feed.
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
