// The paused leader of the HA stage: its Patroni gets SIGSTOP, so its PostgreSQL stays a primary
// while Patroni promotes another member, and nothing closes under the holder; the superseded-holder
// check (--primary-check) must stop it. The overlap with a fresh pglock on the new leader (whose
// command runs 6 s, so without the check the overlap would be all of it) is reported per route, and
// fails the stage above HA_SUPERSEDED_MAX_MS (default 2500: one check interval, and 1.5 s for a
// check's connections and the stop on a loaded machine) unless HA_ASSERT_SUPERSEDED=0.
// HA_PAUSED_HOLDER_OPTS: the holders' pglock options (default `--primary-check 1s`).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { patroniPid, signalPatroni } from '../helpers/ha-health.js';
import { type HaRun, lastErr, logStats, rcOf, startRun, waitRuns, waitStarted } from '../helpers/ha-runs.js';
import { type Cluster, sleep } from '../helpers/ha-stack.js';
import { routes } from './ha-routes.js';

const ASSERT = (process.env.HA_ASSERT_SUPERSEDED ?? '1') === '1';
const MAX_MS = Number(process.env.HA_SUPERSEDED_MAX_MS || 2500);
const HOLDER_OPTS = (process.env.HA_PAUSED_HOLDER_OPTS || '--primary-check 1s').split(/\s+/).filter(Boolean);

export async function pausedScenario(t: Test, cluster: Cluster, old: string, say: (s: string) => void): Promise<string> {
  const began = Date.now();
  say(`scenario paused: leader ${old}`);
  const log = (route: string) => join(cluster.stack.dir, 'logs', `paused-${route}.log`);
  const holders: [string, HaRun][] = [];
  for (const [route, url] of routes(cluster)) {
    writeFileSync(log(route), '');
    const holder = startRun(`paused-${route}-holder`, url, `ha-paused-${route}`, log(route), 45, ['--wait', '--connect-timeout', '30s', ...HOLDER_OPTS]);
    if (!(await waitStarted(log(route), holder.name, 20))) throw new Error(`paused/${route}: the holder did not start in 20s: ${lastErr(holder)}`);
    holders.push([route, holder]);
  }
  const tStop = Date.now();
  say(`  SIGSTOP ${old}'s Patroni (pid ${patroniPid(cluster, old)}); its PostgreSQL stays a primary`);
  signalPatroni(cluster, old, 'SIGSTOP');
  const fresh = await cluster.awaitNewLeader(old);
  const tLeader = Date.now();
  let ok = t.ok(fresh, 'paused: a new leader within 40s of the pause');
  const freshRuns = new Map<string, HaRun>();
  if (fresh) {
    say(`  new leader ${fresh} ${tLeader - tStop} ms after the pause (ttl ${cluster.stack.ttl}s)`);
    // The multi-host URL a fresh pglock gets lists the old leader last, so that it finds the new one.
    const order = [...cluster.names.filter((m) => m !== old), old];
    for (const [route, url] of routes(cluster, order)) {
      freshRuns.set(route, startRun(`paused-${route}-fresh`, url, `ha-paused-${route}`, log(route), 6, ['--wait', '--timeout', '60s', '--connect-timeout', '30s']));
    }
    if (!(await waitRuns(90, [...freshRuns.values()]))) say('  a fresh pglock had not ended after 90s');
  }
  say(`  SIGCONT ${old}'s Patroni`);
  signalPatroni(cluster, old, 'SIGCONT');
  if (!(await waitRuns(90, holders.map(([, h]) => h)))) say('  a holder had not ended 90s after SIGCONT');
  // Who leads once the old leader's Patroni is back (Patroni 3.0.2 with etcd3 has been seen to take
  // the leader key back on SIGCONT, demoting the member promoted meanwhile).
  await sleep(cluster.stack.loopWait * 1000);
  say(`  after SIGCONT: leader ${(await cluster.leader()) ?? 'none'} (${await cluster.line()})`);
  const report: string[] = [];
  for (const [route, holder] of holders) {
    for (const run of [holder, freshRuns.get(route)]) if (run) say(`  ${route} ${run.name}: exit ${rcOf(run)} — ${lastErr(run)}`);
    const stats = logStats(log(route));
    say(`  ${route}: superseded-holder overlap ${stats.overlapMs} ms (${stats.starts} commands started, at most ${stats.most} at once)`);
    report.push(`${route} ${stats.overlapMs}ms`);
    if (ASSERT) {
      ok = t.ok(stats.overlapMs <= MAX_MS, `paused/${route}: the superseded holder ran ${stats.overlapMs} ms beside the new leader's (at most ${MAX_MS})`) && ok;
    }
  }
  const asserted = ASSERT ? ` (asserted <= ${MAX_MS}ms)` : ' (reported, not asserted)';
  return `${'paused'.padEnd(11)} ${ok ? 'ok' : 'FAILED'}  ${((Date.now() - began) / 1000).toFixed(1)}s  new leader ${fresh ?? '-'} after ${tLeader - tStop}ms  overlap: ${report.join(' ')}${asserted}`;
}
