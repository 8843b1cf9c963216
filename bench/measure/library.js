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
//
// Against the peer and the bare protocol (issue 30), each pair measured in the same loop, section by
// section (A, B, A, B ...), with the same count:
//   withLock            pglock's top-level withLock({ url, key }, fn) against advisory-lock's
//                       mutex.withLock(fn) (node-postgres; a new connection per lock, as it does)
//   session             against the bare round trips a warm fail-fast section needs: on one reserved
//                       postgres.js connection, select pg_try_advisory_lock($1), pg_advisory_unlock($1)
//   transaction lock    against a bare sql.begin(tx => tx`select pg_try_advisory_xact_lock(${id})`) on
//                       a second warm postgres(url, { max: 1 }) pool
// then the phases of a lock's own connection, pglock's and the peer's (measure/connection-phases.js),
// what its statements cost a new backend, each promise apart (measure/new-backend.js), where a warm
// section's time goes (measure/warm-split.js), the warm pairs again with the processes pinned to one
// CPU and to two (measure/placement.js),
// and what each case costs the server, counted after the timings on fresh clients (costCount
// sections after the warm-ups): the top-level statements the server executed, from pg_stat_statements
// (loaded dormant by the bench server, switched on only for this count), else the transactions it
// committed (pg_stat_database.xact_commit); and the backends started (pg_stat_database.sessions).
import advisoryLockModule from 'advisory-lock';
import postgres from 'postgres';
import { acquireLock, elect, openLockSession, withLock, withTransactionLock } from '../../dist/index.js';
import { measureConnectionPhases } from './connection-phases.js';
import { measureNewBackend } from './new-backend.js';
import { measurePlacement } from './placement.js';
import { measureWarmSplit } from './warm-split.js';

// advisory-lock is CommonJS compiled from TypeScript: its function is the module's `default`.
const advisoryLock = advisoryLockModule.default ?? advisoryLockModule;

const CASES = {
  withLock: 'withLock (a connection per section)',
  peer: 'advisory-lock withLock (the peer, a connection per section)',
  session: 'session (warm, fail fast)',
  bareTry: 'bare postgres.js try + unlock (warm reserved connection)',
  transaction: 'transaction lock (warm pool)',
  bareTransaction: 'bare postgres.js transaction (warm pool, max 1)',
};
// pglock against the other, side by side: the table "library against its peer and the bare protocol".
const COMPARISONS = [
  { id: 'withLock-peer', case: 'withLock, a connection per lock', pglock: CASES.withLock, other: CASES.peer, otherName: 'advisory-lock' },
  { id: 'session-bare', case: 'warm fail-fast section', pglock: CASES.session, other: CASES.bareTry, otherName: 'bare postgres.js' },
  { id: 'transaction-bare', case: 'transaction lock on a warm pool', pglock: CASES.transaction, other: CASES.bareTransaction, otherName: 'bare postgres.js' },
];
// The admin's own statements while counting carry this mark and are left out of the count.
const MARK = '/* pglock-bench-count */';

export async function measureLibrary({ url, admin, statementStats, config, progress }) {
  const { count, slowCount, handovers } = config;
  const problems = [];
  const summary = {};
  // Each case's sections in turn, one after another: A, B, A, B ... for a pair.
  const timeCases = async (n, cases) => {
    const samples = cases.map(() => []);
    const pids = cases.map(() => new Set());
    for (let i = 0; i < n + config.warmups; i++) {
      for (const [j, { section }] of cases.entries()) {
        const started = performance.now();
        const pid = await section(i);
        if (i >= config.warmups) samples[j].push(performance.now() - started);
        if (pid !== undefined) pids[j].add(pid);
      }
    }
    for (const [j, { name, backends }] of cases.entries()) {
      summary[name] = { ...percentiles(samples[j]), ...(pids[j].size > 0 ? { backendsUsed: pids[j].size } : {}), ...(backends ? { openBackends: await backends() } : {}) };
      progress(`library: ${name}: p50 ${summary[name].p50.toFixed(2)} ms, p99 ${summary[name].p99.toFixed(2)} ms over ${n}`);
    }
  };
  const time = (name, n, section, backends) => timeCases(n, [{ name, section, backends }]);

  await time('acquireLock (a connection per section)', slowCount, async (i) => {
    const lock = await acquireLock({ url, key: `bench:library:conn:${i % 4}` });
    await lock.release();
    return lock.backendPid;
  });

  // pglock's withLock against the peer's, a new connection per lock each.
  const peerCount = config.peerCount ?? slowCount;
  const mutexes = peerMutexes(url);
  await timeCases(peerCount, [
    { name: CASES.peer, section: peerSection(mutexes) },
    { name: CASES.withLock, section: withLockSection(url) },
  ]);

  // Where the time of a lock's own connection goes, phase by phase, for both (not timed above: the tap
  // costs a few microseconds per socket event).
  const phases = await measureConnectionPhases({
    count: config.phaseCount ?? peerCount, warmups: config.warmups,
    sections: {
      [CASES.withLock]: (i, fn) => withLock({ url, key: `bench:library:withlock:${i % 4}` }, fn),
      [CASES.peer]: (i, fn) => mutexes[i % 4].withLock(async () => fn()),
    },
  });
  // A section whose messages the tap could not read (TLS end to end) is left out; none left is a problem.
  for (const name of [CASES.withLock, CASES.peer]) if (!(phases[name].n > 0)) problems.push(`library: no phases read for ${name}`);
  progress(`library: phases of a lock's own connection: pglock ${phases[CASES.withLock].total?.toFixed(2)} ms, advisory-lock ${phases[CASES.peer].total?.toFixed(2)} ms (medians, tapped)`);
  // And what its statements cost a new backend, each promise apart (measure/new-backend.js).
  const newBackend = await measureNewBackend({ url, count: config.phaseCount ?? peerCount, warmups: config.warmups });
  if (newBackend.problem) problems.push(newBackend.problem);

  // A warm session against the bare round trips on a reserved connection of its own.
  const name = 'pglock-bench-session';
  const session = await openLockSession({ url, applicationName: name });
  const bare = await openBareTry(url, 'pglock-bench-bare');
  try {
    await timeCases(count, [
      { name: CASES.session, section: sessionSection(session), backends: () => openBackends(admin, name) },
      { name: CASES.bareTry, section: bare.section, backends: () => openBackends(admin, 'pglock-bench-bare') },
    ]);
  } finally {
    await Promise.all([session.close(), bare.close()]);
  }

  // withTransactionLock against a bare transaction, each on a warm pool of one connection.
  const pool = transactionPool(url, 'pglock-bench-tx');
  const barePool = transactionPool(url, 'pglock-bench-bare-tx');
  try {
    await timeCases(count, [
      { name: CASES.transaction, section: transactionSection(pool), backends: () => openBackends(admin, 'pglock-bench-tx') },
      { name: CASES.bareTransaction, section: bareTransactionSection(barePool), backends: () => openBackends(admin, 'pglock-bench-bare-tx') },
    ]);
  } finally {
    await Promise.all([pool.end({ timeout: 1 }), barePool.end({ timeout: 1 })]);
  }

  // Where a warm section's time goes: in round trips, or in the client (measure/warm-split.js; tapped,
  // so apart from the timings above).
  const warmSplit = await withWarmPairs(url, 'split', (warm) => measureWarmSplit({
    count: Math.min(count, 1000), warmups: config.warmups,
    pairs: [
      { [CASES.session]: warm.session.section, [CASES.bareTry]: warm.bare.section },
      { [CASES.transaction]: warm.transaction.section, [CASES.bareTransaction]: warm.bareTransaction.section },
    ],
  }));

  // The same pairs by where the processes run: all on one CPU, then the backends on another
  // (measure/placement.js; pinned, so apart from the timings above, which the scheduler places).
  const placement = await withWarmPairs(url, 'placed', (warm) => measurePlacement({
    count: Math.min(count, 1000), warmups: config.warmups,
    pairs: [
      { [CASES.session]: warm.session, [CASES.bareTry]: warm.bare },
      { [CASES.transaction]: warm.transaction, [CASES.bareTransaction]: warm.bareTransaction },
    ],
  }));
  if (placement.skipped) progress(`library: not pinned (${placement.skipped})`);

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

  // What each compared case costs the server, counted apart from the timings.
  const costMethod = await countServerCost({ url, admin, statementStats, config, summary, progress, mutexes });
  const comparisons = COMPARISONS.map((c) => {
    const [a, b] = [summary[c.pglock], summary[c.other]];
    return {
      ...c,
      pglockP50: a?.p50, otherP50: b?.p50, ratio: a && b ? a.p50 / b.p50 : undefined,
      pglockP99: a?.p99, otherP99: b?.p99, pglockServer: a?.server, otherServer: b?.server,
    };
  });
  return {
    summary, comparisons, costMethod, phases: { pglock: phases[CASES.withLock], peer: phases[CASES.peer] },
    newBackend: newBackend.problem ? undefined : newBackend, warmSplit, placement, problems,
  };
}

// The compared cases' sections (each returns the backend's pid when it knows it).
function peerMutexes(url) {
  const createMutex = advisoryLock(url);
  return [0, 1, 2, 3].map((k) => createMutex(`bench:library:peer:${k}`));
}
const peerSection = (mutexes) => async (i) => {
  await mutexes[i % 4].withLock(async () => {});
};
const withLockSection = (url) => async (i) => withLock({ url, key: `bench:library:withlock:${i % 4}` }, (lock) => lock.backendPid);
const sessionSection = (session) => async (i) => {
  const lock = await session.acquire({ key: `bench:library:session:${i % 4}` });
  await lock.release();
  return lock.backendPid;
};
// `sent`, when given, counts the statements postgres.js sends (its debug hook, once per query).
const transactionPool = (url, applicationName, sent) =>
  postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: applicationName }, ...(sent ? { debug: () => sent.count++ } : {}) });
const transactionSection = (pool) => async (i) => withTransactionLock(pool, { key: `bench:library:tx:${i % 4}` }, (_, lock) => lock.backendPid);
const bareTransactionSection = (pool) => async (i) => {
  const id = 3_000_000_000n + BigInt(i % 4);
  const [row] = await pool.begin((tx) => tx`select pg_try_advisory_xact_lock(${id}) as locked, pg_backend_pid() as pid`);
  return row.pid;
};

// Fresh clients for the two warm pairs, each case's section with the pid of the backend that serves
// it, closed when `measure` is done.
async function withWarmPairs(url, suffix, measure) {
  const lockSession = await openLockSession({ url });
  const bare = await openBareTry(url, `pglock-bench-bare-${suffix}`);
  const pool = transactionPool(url, `pglock-bench-tx-${suffix}`);
  const barePool = transactionPool(url, `pglock-bench-bare-tx-${suffix}`);
  const pidOf = async (sql) => (await sql`select pg_catalog.pg_backend_pid() as pid`)[0].pid;
  try {
    return await measure({
      session: { section: sessionSection(lockSession), backendPid: lockSession.backendPid },
      bare: { section: bare.section, backendPid: bare.pid },
      transaction: { section: transactionSection(pool), backendPid: await pidOf(pool) },
      bareTransaction: { section: bareTransactionSection(barePool), backendPid: await pidOf(barePool) },
    });
  } finally {
    await Promise.all([lockSession.close(), bare.close(), pool.end({ timeout: 1 }), barePool.end({ timeout: 1 })]);
  }
}

// The two statements of a fail-fast section, bare, on one reserved connection (prepared by
// postgres.js after their first use, as pglock's session prepares its own).
async function openBareTry(url, applicationName, sent) {
  const sql = transactionPool(url, applicationName, sent);
  const reserved = await sql.reserve();
  const [{ pid }] = await reserved`select pg_backend_pid() as pid`;
  return {
    pid,
    section: async (i) => {
      const id = 2_000_000_000n + BigInt(i % 4);
      const [{ locked }] = await reserved`select pg_try_advisory_lock(${id}) as locked`;
      if (!locked) throw new Error(`bare: lock ${id} was not free`);
      await reserved`select pg_advisory_unlock(${id})`;
      return pid;
    },
    close: async () => {
      reserved.release();
      await sql.end({ timeout: 1 });
    },
  };
}

// Per compared case, on a fresh client (opened after the statistics are switched on, so its backend
// tracks from its first statement) after the warm-ups: the statements (or transactions) and the
// backends started per section, into summary[name].server. Returns the method, for the caption.
async function countServerCost({ url, admin, statementStats, config, summary, progress, mutexes }) {
  const n = config.costCount ?? config.slowCount;
  let statements = false;
  if (statementStats) {
    try {
      await admin.unsafe('create extension if not exists pg_stat_statements');
      await switchStatementStats(admin, true);
      statements = true;
    } catch (error) {
      progress(`library: pg_stat_statements unavailable (${error.message}): counting transactions`);
    }
  }
  const clients = {
    [CASES.peer]: async () => ({ section: peerSection(mutexes) }),
    [CASES.withLock]: async () => ({ section: withLockSection(url) }),
    [CASES.session]: async () => {
      const session = await openLockSession({ url });
      return { section: sessionSection(session), close: () => session.close() };
    },
    [CASES.bareTry]: async (sent) => openBareTry(url, 'pglock-bench-bare-count', sent),
    [CASES.transaction]: async (sent) => {
      const pool = transactionPool(url, 'pglock-bench-tx-count', sent);
      return { section: transactionSection(pool), close: () => pool.end({ timeout: 1 }) };
    },
    [CASES.bareTransaction]: async (sent) => {
      const pool = transactionPool(url, 'pglock-bench-bare-tx-count', sent);
      return { section: bareTransactionSection(pool), close: () => pool.end({ timeout: 1 }) };
    },
  };
  // On the postgres.js clients the bench makes (the bare ones, and the pool withTransactionLock is
  // given), the statements are also counted as sent: the server's count leaves out a COMMIT sent
  // over the extended protocol (pg_stat_statements does not list it here).
  const clientCounted = new Set([CASES.bareTry, CASES.transaction, CASES.bareTransaction]);
  try {
    for (const [name, open] of Object.entries(clients)) {
      const sent = clientCounted.has(name) ? { count: 0 } : undefined;
      const client = await open(sent);
      try {
        for (let i = 0; i < Math.min(config.warmups, 5); i++) await client.section(i);
        // Cumulative statistics reach the server's view within a second (and at a backend's exit).
        await sleep(1100);
        const before = await databaseCounters(admin);
        const sentBefore = sent?.count;
        if (statements) await admin.unsafe(`select ${MARK} pg_stat_statements_reset()`);
        for (let i = 0; i < n; i++) await client.section(i);
        await sleep(1100);
        const executed = statements ? await statementCounts(admin) : undefined;
        const after = await databaseCounters(admin);
        const server = { sections: n, newBackendsPerSection: (after.sessions - before.sessions) / n };
        if (sent) server.sentPerSection = (sent.count - sentBefore) / n;
        // Without pg_stat_statements: the transactions committed, which lag (an idle backend reports
        // its counts within seconds), so an approximation; the admin's own read before is one of them.
        if (!statements) server.transactionsPerSection = (after.xact_commit - before.xact_commit - 1) / n;
        if (executed) {
          server.statementsPerSection = executed.reduce((total, row) => total + row.calls, 0) / n;
          server.statements = executed.map((row) => ({ calls: row.calls, query: row.query.replace(/\s+/g, ' ').slice(0, 160) }));
        }
        if (summary[name]) summary[name].server = server;
        progress(`library: ${name}: ${server.statementsPerSection ?? `about ${server.transactionsPerSection} transactions`} statements` +
          `${sent ? ` (${server.sentPerSection} sent)` : ''}, ${server.newBackendsPerSection} new backends per section`);
      } finally {
        await client.close?.();
      }
    }
  } finally {
    if (statements) await switchStatementStats(admin, false).catch(() => {});
  }
  return statements
    ? `statements (st): pg_stat_statements calls (track = top) over ${n} sections on a fresh warmed-up client, which leave out the COMMIT ` +
      'postgres.js sends (extended protocol); "sent": counted client-side on the postgres.js clients the bench makes, COMMIT included; ' +
      'backends: pg_stat_database.sessions delta'
    : `transactions, not statements (no pg_stat_statements; approximate, the counts lag): pg_stat_database.xact_commit delta over ${n} sections; backends: pg_stat_database.sessions delta`;
}

async function switchStatementStats(admin, on) {
  if (on) {
    await admin.unsafe("alter system set pg_stat_statements.track = 'top'");
    await admin.unsafe("alter system set compute_query_id = 'on'");
  } else {
    await admin.unsafe('alter system reset pg_stat_statements.track');
    await admin.unsafe('alter system reset compute_query_id');
  }
  await admin.unsafe(`select ${MARK} pg_reload_conf()`);
  await sleep(300); // the postmaster (and so every backend started from now on) reads the new settings
}

async function statementCounts(admin) {
  const rows = await admin.unsafe(`select ${MARK} calls::int as calls, query from pg_stat_statements
    where query not like '%pglock-bench-count%' order by calls desc, query`);
  return rows.map((row) => ({ calls: row.calls, query: row.query }));
}

async function databaseCounters(admin) {
  const [row] = await admin.unsafe(`select ${MARK} sessions::float8 as sessions, xact_commit::float8 as xact_commit
    from pg_catalog.pg_stat_database where datname = current_database()`);
  return row;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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
