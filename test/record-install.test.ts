// Creating pglock's holder record again (a first use racing another, a claim function missing, a lock
// session bringing an older function up to date) must not stall the server's claims: an ALTER TABLE
// takes the table's exclusive lock, and would wait behind every open transaction that has read the
// table (a transaction lock's, while its work runs) with every later claim queued behind it.
import t from 'tap';
import postgres from 'postgres';
import { HOLDERS_TABLE } from '../src/index.js';
import { INSTALL_LOCK_TIMEOUT, installRecord } from '../src/takeover/claim.js';
import { startTestServer } from './helpers/server.js';

const server = await startTestServer(t, { own: true });
const reader = postgres(server.url, { max: 1, onnotice: () => {} });
const installer = postgres(server.url, { max: 1, onnotice: () => {} });
t.teardown(() => Promise.all([reader.end({ timeout: 1 }), installer.end({ timeout: 1 })]));

/** A transaction that has read the holder table and stays open (a transaction lock's, mid-work). */
async function openReader() {
  const tx = await reader.reserve();
  await tx`begin`;
  await tx.unsafe(`select count(*) from ${HOLDERS_TABLE}`);
  return { end: async () => (await tx`rollback`, tx.release()) };
}

t.test('the record there already: created again without waiting for a transaction that read it', async (t) => {
  await installRecord(installer);
  const open = await openReader();
  const events: string[] = [];
  await installRecord(installer).then(() => events.push('installed'), (error: Error) => events.push(`failed: ${error.message}`));
  events.push('reader ends');
  await open.end();
  t.same(events, ['installed', 'reader ends'], 'done while the reader still had the table open');
});

t.test("an older pglock's table, without its column token: added once no transaction reads it; meanwhile a bounded failure, no stall", async (t) => {
  await server.admin.unsafe(`alter table ${HOLDERS_TABLE} drop column token`);
  const open = await openReader();
  const started = Date.now();
  const blocked = await installRecord(installer).then(() => 'installed', (error: { code?: string }) => error.code);
  const waited = Date.now() - started;
  t.equal(blocked, '55P03', `the column cannot be added while the reader reads: a lock timeout (${INSTALL_LOCK_TIMEOUT}), not a wait without end`);
  t.ok(waited < 30_000, `bounded (${waited} ms)`);
  const [{ timeout } = { timeout: '' }] = await installer.unsafe<{ timeout: string }[]>(`select pg_catalog.current_setting('lock_timeout') as timeout`);
  t.not(timeout, INSTALL_LOCK_TIMEOUT, 'the lock timeout ended with its transaction');
  await open.end();
  await installRecord(installer);
  const columns = await server.admin.unsafe<{ name: string }[]>(
    `select attname as name from pg_catalog.pg_attribute where attrelid = '${HOLDERS_TABLE}'::regclass and attname = 'token' and not attisdropped`);
  t.equal(columns.length, 1, 'added once the reader was gone');
});
