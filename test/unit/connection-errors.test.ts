// How a failed connection is told (connection/errors.ts): a timed-out attempt says how long pglock
// tried, as a refused one does after its retries (issue 28); PostgreSQL's refusal to run an
// advisory-lock function is a PermissionError with the GRANT to run, not a connection failure.
import t from 'tap';
import { PermissionError } from '../../src/errors.js';
import { hostsOf, resolveConnectionConfig } from '../../src/connection/index.js';
import { unavailableError } from '../../src/connection/errors.js';
import { grantFor, permissionErrorFor } from '../../src/lock/privilege.js';

const config = resolveConnectionConfig('postgres://app@db.example:5433/jobs', {});
const spec = hostsOf(config)[0]!;

t.test('a timed-out connect says within how long, as a refused one does', async (t) => {
  for (const code of ['CONNECT_TIMEOUT', 'ETIMEDOUT']) {
    const error = unavailableError(config, [{ spec, error: { code } }], 1000, false);
    t.match(error.message, /^cannot connect to app@db\.example:5433\/jobs within 1s: connection timed out/, code);
  }
  t.match(unavailableError(config, [{ spec, error: { code: 'ECONNREFUSED' } }], 1000, true).message, /within 1s: connection refused/);
  t.notMatch(unavailableError(config, [{ spec, error: { code: '28P01', message: 'password authentication failed' } }], 1000, false).message, /within/, 'no time when it did not keep trying');
});

t.test('42501 on an advisory-lock function: a PermissionError with the GRANT', async (t) => {
  const denied = Object.assign(new Error('permission denied for function pg_try_advisory_lock'), { code: '42501' });
  const error = unavailableError(config, [{ spec, error: denied }], 1000, false);
  t.ok(error instanceof PermissionError);
  t.equal(error.exitCode, 77);
  t.equal(error.message, 'the role "app" may not call pg_catalog.pg_try_advisory_lock (permission denied for function pg_try_advisory_lock, 42501): ' +
    'pglock needs EXECUTE on the advisory-lock functions; as a superuser, run: ' +
    'grant execute on function pg_catalog.pg_try_advisory_lock(bigint), pg_catalog.pg_advisory_lock(bigint), pg_catalog.pg_advisory_unlock(bigint) to "app";');
  t.equal(grantFor('pg_advisory_lock_shared', 'Mixed "Role"'),
    'grant execute on function pg_catalog.pg_try_advisory_lock_shared(bigint), pg_catalog.pg_advisory_lock_shared(bigint), pg_catalog.pg_advisory_unlock_shared(bigint) to "Mixed ""Role""";');
  t.match(grantFor('pg_advisory_xact_lock', undefined), /pg_catalog\.pg_try_advisory_xact_lock\(bigint\), pg_catalog\.pg_advisory_xact_lock\(bigint\) to <role>;$/);
  t.equal(permissionErrorFor(Object.assign(new Error('permission denied for table jobs'), { code: '42501' }), 'app'), undefined, 'other 42501s are left alone');
  t.equal(permissionErrorFor({ code: '28P01', message: 'permission denied for function pg_advisory_lock' }, 'app'), undefined);
});
