// README's library example, run by test/examples.test.ts against a throwaway server (README's
// block is this file from the import on, with 'pglock' in place of the built dist/):
//   DATABASE_URL=postgres://… node scripts/examples/library.mjs
import { LockBusyError, openLockSession, withLock } from '../../dist/index.js';

// One critical section: a connection of its own, the lock released when the function settles.
await withLock({ url: process.env.DATABASE_URL, key: 'nightly-report' }, async (lock) => {
  const [{ now }] = await lock.sql`select now()`; // the locked connection
  console.log(`report: ran at ${now.toISOString()}; lock.signal aborts if the lock is lost`);
});

// A service: one warm session for all of its critical sections.
const session = await openLockSession({ url: process.env.DATABASE_URL });
try {
  await session.withLock({ key: 'import' }, async (lock) => console.log(`import: holding ${lock.describe()}`));
} catch (error) {
  if (!(error instanceof LockBusyError)) throw error; // another instance holds it
}
await session.close();
