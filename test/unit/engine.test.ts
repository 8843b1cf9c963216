// Which engine a server is, from version(): pglock names it when it refuses a grant it cannot prove.
import t from 'tap';
import { classifyEngine } from '../../src/lock/engine.js';
import { notAdvisoryError } from '../../src/lock/prove.js';

t.test('PostgreSQL, and engines that keep its advisory locks, are not named', async (t) => {
  for (const version of [
    'PostgreSQL 18.4 on x86_64-pc-linux-gnu, compiled by gcc (GCC) 12.2.0, 64-bit',
    'PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit',
    'PostgreSQL 16.3 on aarch64-unknown-linux-gnu, compiled by aarch64-unknown-linux-gnu-gcc (GCC) 9.5.0, 64-bit', // RDS, Aurora
  ]) t.equal(classifyEngine(version), undefined, version);
});

t.test('engines whose advisory locks are not real are named, with why', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['CockroachDB CCL v23.1.11 (x86_64-pc-linux-gnu, built 2023/09/27 01:53:43, go1.19.10)', 'CockroachDB', /stubs that always succeed/],
    ['PostgreSQL 11.2-YB-2.18.0.0-b0 on x86_64-pc-linux-gnu, compiled by clang version 15.0.3, 64-bit', 'YugabyteDB', /preview flag/],
    ['PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 (Red Hat 3.4.2-6.fc3), Redshift 1.0.12103', 'Amazon Redshift', /no advisory locks/],
    ['PostgreSQL 9.5.0 on x86_64-unknown-linux-gnu (Materialize v0.92.0)', 'Materialize', /no advisory locks/],
    ['PostgreSQL 13.14.0-RisingWave-1.7.0 (4e1e9a2b)', 'RisingWave', /no advisory locks/],
    ['SomeDB 1.0', 'SomeDB', /not PostgreSQL/],
  ];
  for (const [version, name, why] of cases) {
    const engine = classifyEngine(version);
    t.equal(engine?.name, name, version);
    t.match(engine?.why, why);
  }
  t.equal(classifyEngine('CockroachDB CCL v23.1.11 (x86_64-pc-linux-gnu, built 2023/09/27)')?.version, 'CockroachDB CCL v23.1.11');
});

t.test('the refusal names the engine', async (t) => {
  const engine = classifyEngine('CockroachDB CCL v23.1.11 (x86_64-pc-linux-gnu)');
  const error = notAdvisoryError("'k' (id 1)", 'db:26257', 'session', engine);
  t.equal(error.code, 'ENOADVISORY');
  t.equal(error.exitCode, 69);
  t.equal(error.message, "db:26257 said the advisory lock 'k' (id 1) was granted, but pg_locks does not show it held by this session: " +
    'this server is CockroachDB (CockroachDB CCL v23.1.11), not PostgreSQL: its advisory-lock functions are stubs that always succeed and lock nothing, ' +
    'and pglock cannot prove it holds the lock');
});
