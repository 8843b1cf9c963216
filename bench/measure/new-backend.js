// What a new backend's statements cost a lock on a connection of its own, each promise apart
// (issue 30: why pglock's withLock is not 0.8x its peer's). pglock's own messages are read off the
// wire from one withLock({ url, key }) (net.Socket.prototype.write wrapped for it: the session setup
// statement with the holder's claim behind it in one query message, then the release), and replayed
// on new postgres.js connections (max 1, no type fetch), each after a `select 1` that finishes the
// backend's start, so that only the statements are timed, one step more each time:
//   bare try + unlock     pg_try_advisory_lock, then pg_advisory_unlock: what the peer's lock needs
//   + settings           pglock's setup statement with its proof taken out (the settings, the standby check, the try)
//   + proof              the setup statement as sent: the grant shown in pg_locks, in the same statement
//   + claim, release     the query message as sent (the setup and the holder's claim) and pglock's release
//                        (the holder's row deleted, then the unlock, in one statement)
// The cases in turn (A, B, C, D, A, B ...), a new connection for each; medians of the first
// statement's and the release's round trips.
import net from 'node:net';
import postgres from 'postgres';
import { withLock } from '../../dist/index.js';

export const NEW_BACKEND_STEPS = ['bare try + unlock', '+ settings', '+ proof', '+ claim, release'];

export async function measureNewBackend({ url, count, warmups }) {
  const key = 'bench:library:new-backend';
  const sent = await pglockMessages(url, key);
  const setupEnd = sent.first.search(/\) s;\n/);
  if (setupEnd < 0 || sent.release === undefined) return { problem: 'new backend: pglock\'s messages were not the shape expected' };
  const setup = sent.first.slice(0, setupEnd + 3);
  const unproven = setup.replace(/case when exists \(select from pg_catalog\.pg_locks l[\s\S]*?then ('[^']*') else '' end/, '$1');
  if (unproven === setup) return { problem: 'new backend: the proof was not found in the setup statement' };
  const id = /pg_try_advisory_lock\(\(?(-?\d+)\)?::pg_catalog\.int8\)/.exec(setup)?.[1];
  if (id === undefined) return { problem: 'new backend: the lock id was not found in the setup statement' };
  const unlock = `select pg_catalog.pg_advisory_unlock((${id})::pg_catalog.int8)`;
  const cases = {
    [NEW_BACKEND_STEPS[0]]: [`select pg_catalog.pg_try_advisory_lock((${id})::pg_catalog.int8)`, unlock],
    [NEW_BACKEND_STEPS[1]]: [unproven, unlock],
    [NEW_BACKEND_STEPS[2]]: [setup, unlock],
    [NEW_BACKEND_STEPS[3]]: [sent.first, sent.release],
  };
  const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
  for (let i = 0; i < warmups + count; i++) {
    for (const [name, [first, release]] of Object.entries(cases)) {
      const sql = postgres(url, { max: 1, fetch_types: false, onnotice: () => {}, connection: { application_name: 'pglock-bench-new-backend' } });
      try {
        await sql`select 1`;
        const a = performance.now();
        await sql.unsafe(first);
        const b = performance.now();
        await sql.unsafe(release);
        const c = performance.now();
        if (i >= warmups) samples[name].push([b - a, c - b]);
      } finally {
        await sql.end({ timeout: 1 });
      }
    }
  }
  const median = (list) => [...list].sort((x, y) => x - y)[list.length >> 1];
  return Object.fromEntries(Object.entries(samples).map(([name, list]) => [name, {
    n: list.length, first: median(list.map((s) => s[0])), release: median(list.map((s) => s[1])),
  }]));
}

// The query messages ('Q') of one withLock, the second of two (the first may create pglock's objects).
async function pglockMessages(url, key) {
  const { write } = net.Socket.prototype;
  let queries;
  net.Socket.prototype.write = function (chunk, ...rest) {
    const bytes = Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk) : undefined;
    if (queries && bytes?.[0] === 0x51) queries.push(bytes.subarray(5, bytes.length - 1).toString());
    return write.call(this, chunk, ...rest);
  };
  try {
    await withLock({ url, key }, () => undefined);
    queries = [];
    await withLock({ url, key }, () => undefined);
  } finally {
    net.Socket.prototype.write = write;
  }
  return { first: queries[0] ?? '', release: queries[1] };
}
