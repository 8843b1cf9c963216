// The fault suite (test/faults.test.ts): a stopped server, a network cut, kills, signals and
// role timeouts;
// again over TLS (issue 13). The server speaks TLS and every URL says sslmode=require, so each
// connection in the suite is TLS or fails (helpers/server.ts; PgBouncer too, helpers/pgbouncer.ts).
process.env.PGLOCK_TEST_TLS = '1';
await import('../faults.test.js');
