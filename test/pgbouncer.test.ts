// The PgBouncer helper against a real server: session mode keeps one backend per client (so a
// session advisory lock holds), transaction mode starts and answers. Skipped without pgbouncer.
import t from 'tap';
import postgres from 'postgres';
import { findPgbouncer, startPgbouncer } from './helpers/pgbouncer.js';
import { startTestServer } from './helpers/server.js';

if (findPgbouncer() === undefined) {
  t.plan(0, 'pgbouncer is not installed: apt-get install pgbouncer');
} else {
  const server = await startTestServer(t);

  t.test('session mode: one backend per client, session advisory locks hold', async (t) => {
    const bouncer = await startPgbouncer(server, 'session');
    t.teardown(() => bouncer.stop());
    t.not(bouncer.port, server.port);
    const sql = postgres(bouncer.url, { max: 1, onnotice: () => {} });
    t.teardown(() => sql.end({ timeout: 1 }));

    const [first] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const [second] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    t.ok(first?.pid, 'got a backend pid');
    t.equal(second?.pid, first?.pid, 'two statements on one connection see the same backend');

    const key = Math.floor(Math.random() * 2 ** 31);
    const [lock] = await sql<{ locked: boolean }[]>`select pg_try_advisory_lock(${key}::bigint) as locked`;
    t.equal(lock?.locked, true, 'pg_try_advisory_lock through the bouncer');
    const rows = await server.admin<{ pid: number; granted: boolean }[]>`
      select pid, granted from pg_locks
      where locktype = 'advisory' and classid = 0 and objid = ${key}::oid and objsubid = 1`;
    t.same(rows, [{ pid: first?.pid, granted: true }], 'the session lock is in pg_locks, held by that backend');
    await sql`select pg_advisory_unlock(${key}::bigint)`;
  });

  t.test('transaction mode: starts and answers', async (t) => {
    const bouncer = await startPgbouncer(server, 'transaction');
    t.teardown(() => bouncer.stop());
    const sql = postgres(bouncer.url, {
      max: 1,
      prepare: false,
      onnotice: () => {},
      // Ignored startup parameters must not make PgBouncer refuse the client.
      connection: { statement_timeout: 5000, options: '-c lock_timeout=5000', extra_float_digits: 2 },
    });
    t.teardown(() => sql.end({ timeout: 1 }));
    const [row] = await sql<{ one: number }[]>`select 1 as one`;
    t.equal(row?.one, 1);
  });

  t.test('stop() ends PgBouncer and refuses new clients', async (t) => {
    const bouncer = await startPgbouncer(server, 'statement');
    const sql = postgres(bouncer.url, { max: 1, prepare: false, onnotice: () => {}, connect_timeout: 2 });
    t.teardown(() => sql.end({ timeout: 0 }));
    t.same(await sql`select 1 as one`, [{ one: 1 }], 'statement mode answers too');
    await sql.end({ timeout: 1 });
    await bouncer.stop();
    await bouncer.stop();
    const after = postgres(bouncer.url, { max: 1, onnotice: () => {}, connect_timeout: 2 });
    await t.rejects(after`select 1`, { code: 'ECONNREFUSED' });
    await after.end({ timeout: 0 });
  });
}
