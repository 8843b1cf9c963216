import t from 'tap';
import { type AdvisoryLockRow, describeHolder, formatAge, keySlot, parsePglockApplicationName, slotOf } from '../../src/sql/holders.js';
import { MAX_LIMIT, bigintLockId, lockIdForKey, lockIdHalves, slotIds } from '../../src/key/lock-id.js';

t.test('parsePglockApplicationName: split at the last @, then the last :', async (t) => {
  t.same(parsePglockApplicationName('pglock:nightly@web-1:4242'), { key: 'nightly', host: 'web-1', pid: 4242 });
  t.same(parsePglockApplicationName('pglock:a@b:c@web-1.example.com:7'), { key: 'a@b:c', host: 'web-1.example.com', pid: 7 }, 'keys may contain @ and :');
  t.same(parsePglockApplicationName('pglock:user@host:1@h:99'), { key: 'user@host:1', host: 'h', pid: 99 });
  t.same(parsePglockApplicationName('pglock:-42@h:1'), { key: '-42', host: 'h', pid: 1 }, '--lock-id names the id');
  for (const other of [null, '', 'psql', 'pglock', 'pglock:', 'pglock:key', 'pglock:key@host', 'pglock:@host:1', 'pglock:key@:1',
    'pglock:key@host:', 'pglock:key@host:x1', 'pglock:key@host:1:probe', 'pglock-status@web-1:4242', 'PGLOCK:key@host:1']) {
    t.equal(parsePglockApplicationName(other), null, `not a pglock: ${JSON.stringify(other)}`);
  }
});

t.test('bigintLockId inverts lockIdHalves over the whole signed range', async (t) => {
  for (const id of [0n, 1n, -1n, 42n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 31n, -(2n ** 31n), 2n ** 32n, lockIdForKey('gold_leader')]) {
    const { classid, objid } = lockIdHalves(id);
    t.equal(bigintLockId(classid, objid), id, String(id));
  }
});

t.test('keySlot: own id 0, slots 1..999 (wrapping like slotIds), gate -1, else null', async (t) => {
  const key = 'nightly-report';
  const id = lockIdForKey(key);
  t.equal(keySlot(String(id), key), 0);
  t.equal(keySlot(id + 3n, key), 3);
  t.equal(keySlot(String(id - 1n), key), -1);
  t.equal(keySlot(String(id + 999n), key), 999);
  t.equal(keySlot(String(id + 1000n), key), null);
  t.equal(keySlot(String(id - 2n), key), null);
  t.equal(keySlot('1:2', key), null, 'two-int4 ids are never a key');
  for (const baseId of [2n ** 63n - 10n, -(2n ** 63n)]) {
    const ids = slotIds(baseId, MAX_LIMIT);
    t.same(ids.map((id) => slotOf(id, baseId)), ids.map((_, i) => i), `every slot of ${baseId}, wrapping around the signed range`);
    t.equal(slotOf(BigInt.asIntN(64, baseId - 1n), baseId), -1, 'the gate, wrapping');
  }
});

const base: AdvisoryLockRow = {
  lockId: '1', key: null, slot: null, granted: true, mode: 'exclusive', pid: 1234, applicationName: null, pglock: null,
  clientAddr: null, user: null, since: null, backendStart: null, detailsHidden: false,
};
const now = new Date('2025-01-01T12:00:00.000Z');

t.test('describeHolder: one phrase per kind of session', async (t) => {
  t.equal(
    describeHolder({ ...base, key: 'k', slot: 0, pglock: { key: 'k', host: 'web-1', pid: 4242 }, since: '2025-01-01T11:59:48.000Z' }, now),
    'pglock on web-1 (pid 4242), held for 12s',
  );
  t.equal(
    describeHolder({ ...base, applicationName: 'psql', clientAddr: '10.0.0.5', user: 'bob', since: '2025-01-01T11:56:58.000Z' }, now),
    "backend 1234 (application 'psql', client 10.0.0.5, user bob), held for 3m2s",
  );
  t.equal(describeHolder({ ...base, user: 'bob' }, now), 'backend 1234 (client local socket, user bob)', 'no since: no duration');
  t.equal(
    describeHolder({ ...base, detailsHidden: true }, now),
    'backend 1234 (details hidden: the role cannot see other sessions; grant pg_read_all_stats to see them)',
  );
  t.equal(
    describeHolder({ ...base, detailsHidden: true, applicationName: 'worker', user: 'app' }, now),
    "backend 1234 (application 'worker', user app; other details hidden: the role cannot see other sessions; grant pg_read_all_stats to see them)",
  );
  t.equal(
    describeHolder({ ...base, key: 'k', slot: 2, mode: 'shared', pglock: { key: 'k', host: 'h', pid: 1 }, since: '2025-01-01T11:59:59.500Z' }, now),
    'pglock on h (pid 1), slot 2, held shared for 500ms',
  );
  t.equal(describeHolder({ ...base, granted: false, since: '2025-01-01T11:59:57.000Z', user: 'u' }, now), 'backend 1234 (client local socket, user u), waiting for 3s');
  t.equal(describeHolder({ ...base, pid: 0 }, now), 'a prepared transaction');
});

t.test('formatAge: never negative, undefined for a bad time', async (t) => {
  t.equal(formatAge('2025-01-01T12:00:05.000Z', now), '0ms', 'a clock ahead of ours');
  t.equal(formatAge('2025-01-01T10:59:00.000Z', now), '1h1m');
  t.equal(formatAge('yesterday', now), undefined);
});
