// The switchover and failover scenarios of the HA stage: on each route a holder (12 s) and 4 waiters
// (1 s each) on a key of their own; then the trigger; then every run checked: the holder exits 0 or
// 70, every waiter exits 0, every command ran, and never two at once. Every run has `--heartbeat 1s`
// (the primary check every second; the waiters' every 500 ms); the waiters' `--connect-timeout 2s`
// is shorter than any of these outages, and their `--timeout 90s` outlasts them: a waiter waits
// through the outage (issue 29), and its primary check never stops it while a writer endpoint still
// leads to the demoted member (the `haproxy-slow` route, Patroni's example timing).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { type HaRun, lastErr, logStats, rcOf, startRun, waitRuns, waitStarted } from '../helpers/ha-runs.js';
import { patroniPid, signalPatroni } from '../helpers/ha-health.js';
import { type Cluster, sleep } from '../helpers/ha-stack.js';
import { routes } from './ha-routes.js';

type Say = (s: string) => void;

const triggers: Record<string, (cluster: Cluster, old: string, say: Say) => Promise<void>> = {
  // Patroni's REST API, to the next member.
  async switchover(cluster, old, say) {
    const cand = cluster.names[(cluster.names.indexOf(old) + 1) % cluster.names.length] as string;
    const answer = await fetch(`http://127.0.0.1:${cluster.member(old).rest}/switchover`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ leader: old, candidate: cand }),
      signal: AbortSignal.timeout(30_000),
    }).then((r) => r.text(), () => 'no answer');
    say(`  switchover ${old} -> ${cand}: ${answer}`);
  },
  // SIGKILL to the leader's postmaster.
  async failover(cluster, old, say) {
    const pid = cluster.postmasterPid(old);
    if (!pid) throw new Error(`no postmaster.pid for ${old}`);
    say(`  kill -9 ${old}'s postmaster (pid ${pid})`);
    process.kill(pid, 'SIGKILL');
  },
  // A node lost: SIGKILL to the leader's Patroni and postmaster. Nobody demotes or releases the
  // leader key: the cluster has no primary until the key expires (ttl), far longer than the
  // waiters' --connect-timeout (resetCluster starts that Patroni again).
  async 'node-kill'(cluster, old, say) {
    const pid = cluster.postmasterPid(old);
    if (!pid) throw new Error(`no postmaster.pid for ${old}`);
    say(`  kill -9 ${old}'s Patroni (pid ${patroniPid(cluster, old)}) and postmaster (pid ${pid})`);
    signalPatroni(cluster, old, 'SIGKILL');
    process.kill(pid, 'SIGKILL');
  },
};

const HOLDER = ['--wait', '--connect-timeout', '30s', '--heartbeat', '1s'];
const WAITER = ['--wait', '--timeout', '90s', '--connect-timeout', '2s', '--heartbeat', '1s', '--primary-check', '500ms', '-v'];

/** Runs the scenario `scen` (switchover or failover) from leader `old`; its summary line. */
export async function queueScenario(t: Test, cluster: Cluster, old: string, scen: string, say: Say): Promise<string> {
  const began = Date.now();
  say(`scenario ${scen}: leader ${old}`);
  const runs = new Map<string, HaRun[]>();
  for (const [route, url] of routes(cluster)) {
    const log = join(cluster.stack.dir, 'logs', `${scen}-${route}.log`);
    writeFileSync(log, '');
    const holder = startRun(`${scen}-${route}-holder`, url, `ha-${scen}-${route}`, log, 12, HOLDER);
    if (!(await waitStarted(log, holder.name, 20))) throw new Error(`${scen}/${route}: the holder did not start in 20s: ${lastErr(holder)}`);
    const waiters = [1, 2, 3, 4].map((i) =>
      startRun(`${scen}-${route}-w${i}`, url, `ha-${scen}-${route}`, log, 1, WAITER));
    runs.set(route, [holder, ...waiters]);
  }
  if (!(await waitingOn(cluster, old, 4 * runs.size, 20))) say(`  (not all waiters were seen queued on ${old} within 20s; going on)`);
  await sleep(1000);
  const tTrigger = Date.now();
  await triggers[scen]!(cluster, old, say);
  const fresh = await cluster.awaitNewLeader(old);
  const tLeader = Date.now();
  if (fresh) say(`  new leader ${fresh} ${tLeader - tTrigger} ms after the ${scen} began`);
  else say(`  no other member leads 40s after the ${scen} began: ${await cluster.line()}`);
  const all = [...runs.values()].flat();
  if (!(await waitRuns(150, all))) say('  some pglock runs had not ended after 150s');
  say(`  all runs ended ${Date.now() - tTrigger} ms after the ${scen} began`);
  let ok = true;
  for (const [route, [holder, ...waiters]] of runs) {
    ok = checkQueue(t, scen, route, join(cluster.stack.dir, 'logs', `${scen}-${route}.log`), holder!, waiters, say) && ok;
  }
  ok = t.ok(fresh, `${scen}: a new leader`) && ok;
  const codes = [...runs].map(([route, [holder, ...waiters]]) => `${route} ${rcOf(holder!)}/${waiters.map(rcOf).join(',')}`);
  return `${scen.padEnd(11)} ${ok ? 'ok' : 'FAILED'}  ${((Date.now() - began) / 1000).toFixed(1)}s  new leader ${fresh ?? '-'} after ${tLeader - tTrigger}ms  exits (holder/waiters): ${codes.join(' ')}`;
}

function checkQueue(t: Test, scen: string, route: string, log: string, holder: HaRun, waiters: HaRun[], say: Say): boolean {
  const stats = logStats(log);
  let ok = true;
  say(`  ${route} ${holder.name}: exit ${rcOf(holder)} (expected 0 or 70) — ${lastErr(holder)}`);
  ok = t.ok(['0', '70'].includes(rcOf(holder)), `${scen}/${route}: the holder exits 0 or 70 (exited ${rcOf(holder)})`) && ok;
  for (const w of waiters) {
    say(`  ${route} ${w.name}: exit ${rcOf(w)} (expected 0) — ${lastErr(w)}`);
    ok = t.equal(rcOf(w), '0', `${scen}/${route}: waiter ${w.name} exits 0`) && ok;
    const err = w.result?.stderr ?? '';
    ok = t.notMatch(err, /superseded/, `${scen}/${route}: the primary check did not stop ${w.name}, which held the lock rightfully`) && ok;
    const outage = /cannot connect to .* within 2s.*; waiting on until --timeout/.test(err);
    if (outage) say(`  ${route} ${w.name}: waited through the outage past its --connect-timeout`);
  }
  say(`  ${route}: ${stats.starts} commands started, ${stats.ends} ended, at most ${stats.most} at once, overlap ${stats.overlapMs} ms`);
  ok = t.equal(stats.starts, waiters.length + 1, `${scen}/${route}: every command ran`) && ok;
  ok = t.equal(stats.ends, stats.starts, `${scen}/${route}: every command that started ended`) && ok;
  ok = t.ok(stats.overlapMs === 0 && stats.most <= 1, `${scen}/${route}: never two commands at once (overlap ${stats.overlapMs} ms)`) && ok;
  return ok;
}

/** Until `count` advisory lock requests wait on the member `m` (false after `secs` seconds). */
async function waitingOn(cluster: Cluster, m: string, count: number, secs: number): Promise<boolean> {
  for (let i = 0; i < secs * 4; i++) {
    const n = await cluster.psql(cluster.member(m).pg, "select count(*) from pg_catalog.pg_locks where locktype = 'advisory' and not granted");
    if (Number(n || 0) >= count) return true;
    await sleep(250);
  }
  return false;
}
