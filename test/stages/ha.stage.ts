// pglock against a real HA stack (Patroni + etcd + HAProxy), the CI stage `ha`: run by
// scripts/ha-test.sh, which starts the stack, describes it in PGLOCK_HA_STACK and stops it after.
// pglock (this checkout's bin/pglock.cjs) logs in with a password (scram) and runs three scenarios,
// each through both HAProxy ports and a multi-host URL (every member), a key per route:
//   switchover  a holder runs, 4 waiters queue; Patroni switches over to another member
//   failover    the same, but the leader's postmaster is killed with SIGKILL
//   node-kill   the same, but the leader's Patroni and postmaster are killed (a node lost): no
//               primary until the leader key expires, longer than the waiters' --connect-timeout
//   paused      the leader's Patroni is stopped with SIGSTOP (its PostgreSQL stays a primary); a new
//               leader is promoted after ttl while the holder still runs on the old primary
// The cluster is brought back to 3 healthy members and one leader between scenarios.
import t from 'tap';
import { resetCluster, waitHealthy } from '../helpers/ha-health.js';
import { Cluster, readStack } from '../helpers/ha-stack.js';
import { pausedScenario } from './ha-paused.js';
import { queueScenario } from './ha-queue.js';

const file = process.env.PGLOCK_HA_STACK;
if (!file) {
  t.plan(0, 'PGLOCK_HA_STACK is not set: this file runs from bash scripts/ha-test.sh, which starts the HA stack');
} else {
  const cluster = new Cluster(readStack(file));
  // Progress on stderr, at once (a comment would wait for the running subtest to end).
  const say = (s: string) => void process.stderr.write(`ha-test: ${s}\n`);
  const summary: string[] = [];
  t.teardown(() => {
    say('summary:');
    for (const line of summary) say(`  ${line}`);
  });

  t.test('setup: the stack becomes healthy', async (t) => {
    const began = Date.now();
    const leader = await waitHealthy(cluster, 120, say);
    t.ok(leader, 'one leader, two streaming replicas, HAProxy routing to the leader alone, the pglock role logs in');
    if (!leader) t.bailout('the cluster did not become healthy in 120s');
    say(`healthy in ${Math.round((Date.now() - began) / 1000)}s: leader ${leader} (${await cluster.line()})`);
    summary.push(`${'setup'.padEnd(11)} ok  ${Math.round((Date.now() - began) / 1000)}s`);
  });

  t.test('switchover', async (t) => {
    const leader = await resetCluster(cluster, say);
    summary.push(await queueScenario(t, cluster, leader, 'switchover', say));
  });

  t.test('failover', async (t) => {
    const leader = await resetCluster(cluster, say);
    summary.push(await queueScenario(t, cluster, leader, 'failover', say));
  });

  t.test('node-kill failover', async (t) => {
    const leader = await resetCluster(cluster, say);
    summary.push(await queueScenario(t, cluster, leader, 'node-kill', say));
  });

  t.test('paused leader', async (t) => {
    const leader = await resetCluster(cluster, say);
    summary.push(await pausedScenario(t, cluster, leader, say));
    await resetCluster(cluster, say);
  });
}
