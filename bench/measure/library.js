// 9. The library for long-running services (issue 20): what one critical section costs, in-process,
// against the plain server on loopback. Each case runs `count` sections one after another (after
// `warmups`), timed from the call to the release's resolution:
//   acquireLock         a connection per section (the library before lock sessions)
//   session             a fail-fast section on a warm lock session: acquire + release (two round trips)
//   transaction lock    withTransactionLock on a warm postgres.js pool (begin, lock, commit)
//   session handover    a waiter on another session is granted as the holder releases: release → grant
//   election handover   stop() of the leader → the next contender's onLeading
// The server's side: the distinct backends that served the sections, and the backends the case's
// application_name had open at the end (a session: one, for any number of sections).
import postgres from 'postgres';
import { acquireLock, elect, openLockSession, withTransactionLock } from '../../dist/index.js';

export async function measureLibrary({ url, admin, config, progress }) {
  const { count, slowCount, handovers } = config;
  const problems = [];
  const summary = {};
  const time = async (name, n, section, backends) => {
    const samples = [];
    const pids = new Set();
    for (let i = 0; i < n + config.warmups; i++) {
      const started = performance.now();
      const pid = await section(i);
      if (i >= config.warmups) samples.push(performance.now() - started);
      pids.add(pid);
    }
    summary[name] = { ...percentiles(samples), backendsUsed: pids.size, ...(backends ? { openBackends: await backends() } : {}) };
    progress(`library: ${name}: p50 ${summary[name].p50.toFixed(2)} ms, p99 ${summary[name].p99.toFixed(2)} ms over ${n}`);
  };

  await time('acquireLock (a connection per section)', slowCount, async (i) => {
    const lock = await acquireLock({ url, key: `bench:library:conn:${i % 4}` });
    await lock.release();
    return lock.backendPid;
  });

  const name = 'pglock-bench-session';
  const session = await openLockSession({ url, applicationName: name });
  try {
    await time('session (warm, fail fast)', count, async (i) => {
      const lock = await session.acquire({ key: `bench:library:session:${i % 4}` });
      await lock.release();
      return lock.backendPid;
    }, () => openBackends(admin, name));
  } finally {
    await session.close();
  }

  const pool = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'pglock-bench-tx' } });
  try {
    await time('transaction lock (warm pool)', count, async (i) => withTransactionLock(pool, { key: `bench:library:tx:${i % 4}` }, (_, lock) => lock.backendPid),
      () => openBackends(admin, 'pglock-bench-tx'));
  } finally {
    await pool.end({ timeout: 1 });
  }

  // Release → grant, holder and waiter on two warm sessions (the waiter waits on a connection of its own).
  const holder = await openLockSession({ url });
  const waiter = await openLockSession({ url });
  try {
    const samples = [];
    for (let i = 0; i < handovers; i++) {
      const key = `bench:library:handover:${i}`;
      const held = await holder.acquire({ key });
      let granted;
      const waiting = waiter.acquire({ key, wait: true }).then((lock) => ((granted = performance.now()), lock));
      await waitForWaiter(admin, key);
      const released = performance.now();
      await held.release();
      const lock = await waiting;
      samples.push(granted - released);
      await lock.release();
    }
    summary['session handover (release → grant)'] = { ...percentiles(samples), backendsUsed: 2 };
  } finally {
    await Promise.all([holder.close(), waiter.close()]);
  }

  const elections = [];
  for (let i = 0; i < Math.max(3, Math.floor(handovers / 4)); i++) elections.push(await electionHandover(url, `bench:library:elect:${i}`, problems));
  summary['election handover (stop → onLeading)'] = percentiles(elections.filter((v) => v !== undefined));
  return { summary, problems };
}

async function electionHandover(url, key, problems) {
  let leading = 0;
  let secondAt;
  const first = elect({ url, key, onLeading: (signal) => new Promise((resolve) => { leading++; signal.addEventListener('abort', resolve); }) });
  while (!first.isLeader) await new Promise((resolve) => setTimeout(resolve, 5));
  const second = elect({ url, key, onLeading: (signal) => new Promise((resolve) => { secondAt = performance.now(); signal.addEventListener('abort', resolve); }) });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const stopped = performance.now();
  await first.stop();
  while (secondAt === undefined && performance.now() - stopped < 10_000) await new Promise((resolve) => setTimeout(resolve, 1));
  await second.stop();
  if (secondAt === undefined || leading !== 1) {
    problems.push(`library: election handover for ${key} did not happen`);
    return undefined;
  }
  return secondAt - stopped;
}

async function waitForWaiter(admin, key) {
  for (let i = 0; i < 2000; i++) {
    const [row] = await admin`select count(*)::int as n from pg_catalog.pg_locks l join pg_catalog.pg_stat_activity a using (pid)
      where l.locktype = 'advisory' and not l.granted and a.application_name like 'pglock:(session)%'`;
    if (row.n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`no waiter queued for ${key}`);
}

async function openBackends(admin, applicationName) {
  const [row] = await admin`select count(*)::int as n from pg_catalog.pg_stat_activity where application_name = ${applicationName}`;
  return row.n;
}

function percentiles(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
  return { n: sorted.length, min: sorted[0], p50: at(50), p99: at(99), max: sorted.at(-1) };
}
