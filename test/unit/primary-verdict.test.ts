// The primary check's verdict on one server reached through the lock's own endpoint (issue 29): a
// standby gives none, nor does the lock's own server or the stale old primary on an older timeline.
import t from 'tap';
import { type ServerIdentity, supersedes } from '../../src/lock/primary-check.js';

const own: ServerIdentity = { system: '7300', started: '2026-12-03 10:00:00+00', standby: false, timeline: 3 };

const cases: [string, ServerIdentity, boolean][] = [
  ['the lock\'s own server', { ...own }, false],
  ['a standby (the demoted old primary, still routed to)', { ...own, started: '2026-12-03 09:00:00+00', standby: true, timeline: null }, false],
  ['a standby of another cluster', { ...own, system: '9999', standby: true, timeline: null }, false],
  ['a primary of the same cluster on an older timeline (the stale old primary)', { ...own, started: '2026-12-03 09:00:00+00', timeline: 2 }, false],
  ['a primary of the same cluster on a newer timeline (promoted since)', { ...own, started: '2026-12-03 09:00:00+00', timeline: 4 }, true],
  ['a primary of the same cluster on the same timeline, started at another time (another server)', { ...own, started: '2026-12-03 11:00:00+00' }, true],
  ['a primary of another cluster, whatever its timeline', { ...own, system: '9999', timeline: 1 }, true],
];

for (const [what, seen, verdict] of cases) {
  t.equal(supersedes(seen, own), verdict, `${what}: ${verdict ? 'superseded' : 'no verdict'}`);
}
