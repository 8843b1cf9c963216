// docs/library.md's "Services" example, run by test/examples.test.ts against a throwaway server:
//   DATABASE_URL=postgres://… node scripts/examples/services.mjs
// (in your code, import from 'pglock' instead of the built dist/)
import postgres from 'postgres';
import { LockBusyError, elect, openLockSession, withTransactionLock } from '../../dist/index.js';

// 1. A lock session: one connection for all of a service's critical sections.
const session = await openLockSession({ url: process.env.DATABASE_URL });
await session.withLock({ key: 'nightly-report' }, async (lock) => {
  console.log(`report: holding ${lock.describe()} on backend ${lock.backendPid}`);
  // pass lock.signal to long work: it aborts if the lock is lost
});
const held = await session.acquire({ key: 'import' }); // in TypeScript: await using held = …
try {
  await session.acquire({ key: 'import' }); // the same key again: refused, locks do not stack
} catch (error) {
  if (!(error instanceof LockBusyError)) throw error;
  console.log(`import: ${error.message}`);
} finally {
  await held.release();
}
await session.close();

// 2. A lock inside the application's own transaction (works through PgBouncer in transaction mode).
const sql = postgres(process.env.DATABASE_URL, { onnotice: () => {} });
const total = await withTransactionLock(sql, { key: 'invoice:42', timeoutMs: 5000 }, async (tx) => {
  const [row] = await tx`select 40 + 2 as total`;
  return row.total; // the lock ends with the commit
});
console.log(`invoice: total ${total}, lock released with the transaction`);
await sql.end();

// 3. Leader election: lead while holding the lock, step down on loss, contend again.
const election = elect({
  url: process.env.DATABASE_URL,
  key: 'gold_leader',
  onLeading: async (signal) => {
    console.log('gold_leader: leading');
    await new Promise((resolve) => signal.addEventListener('abort', resolve)); // the leader's duties
    console.log('gold_leader: stepped down');
  },
  onError: (error) => console.error(`gold_leader: ${error.message}`),
});
while (!election.isLeader) await new Promise((resolve) => setTimeout(resolve, 10));
const leader = await election.leader();
console.log(`gold_leader: led by ${leader.self ? 'this process' : `${leader.host} pid ${leader.pid}`}`);
await election.stop(); // e.g. on SIGTERM: resign, the next instance takes over at once
