// The pooler suite (test/pooler.test.ts): PgBouncer in statement mode refused, in transaction mode
// holding the lock in an open transaction, in session mode working;
// again over TLS (issue 13). The server speaks TLS and every URL says sslmode=require, so each
// connection in the suite is TLS or fails (helpers/server.ts; PgBouncer too, helpers/pgbouncer.ts).
process.env.PGLOCK_TEST_TLS = '1';
await import('../pooler.test.js');
