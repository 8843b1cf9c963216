// Whether the HA stack is healthy, and bringing it back to health between scenarios.
import { execFile, spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Cluster, sleep } from './ha-stack.js';

const run = promisify(execFile);

/** Patroni's pid for a member: scripts/ha-test.sh (or restartPatroni) writes it next to its config. */
export function patroniPid(cluster: Cluster, m: string): number {
  return Number(readFileSync(join(cluster.stack.dir, m, 'patroni.pid'), 'utf8').trim());
}

export function signalPatroni(cluster: Cluster, m: string, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(patroniPid(cluster, m), signal);
    return true;
  } catch {
    return false;
  }
}

// As the postgres user, exec'd (setpriv and env exec), so the child's pid is Patroni's own. Its
// command line names the stack's directory, so scripts/ha-test.sh stops it on exit like the others.
function asPostgres(cluster: Cluster, m: string, command: string[]): string[] {
  return ['--reuid=postgres', '--regid=postgres', '--init-groups', 'env', `HOME=${join(cluster.stack.dir, m)}`, ...command];
}

export function restartPatroni(cluster: Cluster, m: string): void {
  const log = openSync(join(cluster.stack.dir, 'logs', `patroni-${m}.log`), 'a');
  const child = spawn('setpriv', asPostgres(cluster, m, ['patroni', join(cluster.stack.dir, m, 'patroni.yml')]), {
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  writeFileSync(join(cluster.stack.dir, m, 'patroni.pid'), `${child.pid}\n`);
}

// Healthy: one leader, both others replicas streaming from it, HAProxy routes to the leader alone,
// HAProxy and the multi-host URL both reach it, and the pglock role logs in. Polls for at most
// `secs` seconds; the leader, or undefined (after saying why in `say`).
export async function waitHealthy(cluster: Cluster, secs: number, say: (s: string) => void): Promise<string | undefined> {
  const deadline = Date.now() + secs * 1000;
  while (Date.now() < deadline) {
    const l = await cluster.leader();
    if (l && await healthyUnder(cluster, l)) return l;
    await sleep(500);
  }
  say(`not healthy after ${secs}s: ${await cluster.line()} ${await cluster.routes()}`);
  return undefined;
}

async function healthyUnder(cluster: Cluster, l: string): Promise<boolean> {
  for (const m of cluster.names) {
    if (m !== l && (await cluster.httpCode(cluster.member(m).rest, '/replica')) !== 200) return false;
  }
  if ((await cluster.psql(cluster.member(l).pg, "select count(*) from pg_stat_replication where state = 'streaming'")) !== '2') return false;
  if ((await cluster.haproxyUp()) !== l || (await cluster.haproxyUp('primary-slow')) !== l) return false;
  if ((await cluster.psql(cluster.haproxyUrl(cluster.stack.haproxy), 'select pg_is_in_recovery()')) !== 'f') return false;
  return (await cluster.psql(`${cluster.multiUrl()}?target_session_attrs=read-write`, 'select pg_is_in_recovery()')) === 'f';
}

// Back to 3 healthy members and one leader: any stopped Patroni continued, a dead one started again,
// and a member that cannot rejoin reinitialized from the leader. Throws when that fails.
export async function resetCluster(cluster: Cluster, say: (s: string) => void): Promise<string> {
  const t = Date.now();
  for (const m of cluster.names) {
    signalPatroni(cluster, m, 'SIGCONT');
    if (!signalPatroni(cluster, m, 0)) {
      say(`patroni ${m} had died: starting it again`);
      restartPatroni(cluster, m);
    }
  }
  let leader = await waitHealthy(cluster, 60, say);
  if (!leader) {
    const l = await cluster.leader();
    if (!l) throw new Error('no leader to reinitialize from');
    for (const m of cluster.names) {
      if (m === l || (await cluster.httpCode(cluster.member(m).rest, '/replica')) === 200) continue;
      say(`reinitializing ${m}`);
      const yml = join(cluster.stack.dir, m, 'patroni.yml');
      await run('setpriv', asPostgres(cluster, m, ['patronictl', '-c', yml, 'reinit', '--force', cluster.stack.scope, m]), { timeout: 120_000 })
        .catch(() => undefined);
    }
    leader = await waitHealthy(cluster, 90, say);
    if (!leader) throw new Error('the cluster did not come back to 3 healthy members');
  }
  say(`cluster healthy in ${Math.round((Date.now() - t) / 1000)}s: leader ${leader} (${await cluster.line()} ${await cluster.routes()})`);
  return leader;
}
