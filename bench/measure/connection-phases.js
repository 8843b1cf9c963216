// Where a lock's own connection spends its time (issue 30): pglock's withLock({ url, key }, fn) and
// advisory-lock's mutex.withLock(fn), section by section (A, B, A, B ...), each cut into phases at
// the moments its socket sends or receives PostgreSQL messages. The tap: while this measurement
// runs, net.Socket.prototype.connect and .write are wrapped and every socket gets a 'data'
// listener, so each event is stamped with performance.now() (a few microseconds each, the same for
// both); both clients write to and read from a net.Socket, so both are seen alike.
//
// The phases, in the order they happen (a phase a client does not have is 0):
//   before the socket     from the call to the socket's connect (resolving options, building statements)
//   TCP connect           to the socket's connect event
//   TLS request           the SSLRequest and its one-byte answer (pglock's sslmode prefer; the server forks the backend meanwhile)
//   until the startup     to the startup message on the wire (postgres.js starts a connection from a timer)
//   startup → auth        the server: backend start, pg_hba, the role; until its authentication request
//   SCRAM                 to the client's final SCRAM message (one round trip, and the client's proof: PBKDF2)
//   auth check + init     the server checks the proof and finishes the backend's start: until ReadyForQuery
//   until fn runs         the statements before the critical section (round trips counted)
//   release               from fn's end to the call's resolution (round trips counted)
import net from 'node:net';

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

export const PHASES = [
  'before the socket', 'TCP connect', 'TLS request', 'until the startup', 'startup → auth', 'SCRAM',
  'auth check + init', 'until fn runs', 'release',
];

export async function measureConnectionPhases({ count, warmups, sections }) {
  const tap = installTap();
  const samples = Object.fromEntries(Object.keys(sections).map((name) => [name, []]));
  try {
    for (let i = 0; i < warmups + count; i++) {
      for (const [name, section] of Object.entries(sections)) {
        tap.start();
        await section(i, () => tap.mark('fn'));
        tap.mark('done');
        const phases = phasesOf(tap.stop());
        if (i >= warmups && phases) samples[name].push(phases);
      }
    }
  } finally {
    tap.remove();
  }
  const summary = {};
  for (const [name, list] of Object.entries(samples)) {
    const median = (pick) => medianOf(list.map(pick));
    summary[name] = {
      n: list.length,
      phases: Object.fromEntries(PHASES.map((phase) => [phase, median((s) => s.ms[phase] ?? 0)])),
      roundTrips: { 'until fn runs': median((s) => s.trips.before), release: median((s) => s.trips.after) },
      total: median((s) => s.total),
    };
  }
  return summary;
}

// Stamps every socket event between start() and stop().
function installTap() {
  const proto = net.Socket.prototype;
  const { connect, write } = proto;
  let events;
  let t0 = 0;
  const mark = (what, detail) => events?.push({ at: performance.now() - t0, what, detail });
  proto.connect = function (...args) {
    mark('connect');
    this.once('connect', () => mark('connected'));
    this.on('data', (data) => mark('recv', data));
    return connect.apply(this, args);
  };
  proto.write = function (chunk, ...rest) {
    if (Buffer.isBuffer(chunk) || chunk instanceof Uint8Array) mark('send', Buffer.from(chunk));
    return write.call(this, chunk, ...rest);
  };
  return {
    start() {
      events = [];
      t0 = performance.now();
    },
    mark,
    stop() {
      const seen = events;
      events = undefined;
      return seen;
    },
    remove() {
      proto.connect = connect;
      proto.write = write;
    },
  };
}

// One section's events, cut into phases; undefined if it is not the shape expected (then left out).
function phasesOf(events) {
  const at = (i) => (i >= 0 ? events[i].at : undefined);
  const find = (from, test) => events.findIndex((e, i) => i >= from && test(e));
  const connect = find(0, (e) => e.what === 'connect');
  const connected = find(connect, (e) => e.what === 'connected');
  const sslSent = find(connected, (e) => e.what === 'send' && e.detail.equals(SSL_REQUEST));
  const sslAnswer = sslSent < 0 ? -1 : find(sslSent, (e) => e.what === 'recv');
  const startup = find(Math.max(connected, sslAnswer), (e) => e.what === 'send' && e.detail[0] === 0 && !e.detail.equals(SSL_REQUEST));
  const authRequest = find(startup, (e) => e.what === 'recv' && e.detail[0] === 0x52);
  const ready = find(authRequest, (e) => e.what === 'recv' && hasReadyForQuery(e.detail));
  const lastAuthSend = events.findLastIndex((e, i) => i > authRequest && i < ready && e.what === 'send');
  const fn = find(ready, (e) => e.what === 'fn');
  const done = find(fn, (e) => e.what === 'done');
  if ([connect, connected, startup, authRequest, ready, fn, done].some((i) => i < 0)) return undefined;
  const scramEnd = lastAuthSend < 0 ? authRequest : lastAuthSend;
  const trips = (from, to) => events.filter((e, i) => i > from && i < to && e.what === 'recv' && hasReadyForQuery(e.detail)).length;
  const ms = {
    'before the socket': at(connect),
    'TCP connect': at(connected) - at(connect),
    'TLS request': sslSent < 0 ? 0 : at(sslAnswer) - at(connected),
    'until the startup': at(startup) - (sslSent < 0 ? at(connected) : at(sslAnswer)),
    'startup → auth': at(authRequest) - at(startup),
    SCRAM: at(scramEnd) - at(authRequest),
    'auth check + init': at(ready) - at(scramEnd),
    'until fn runs': at(fn) - at(ready),
    release: at(done) - at(fn),
  };
  return { ms, total: at(done), trips: { before: trips(ready, fn), after: trips(fn, done) } };
}

// A ReadyForQuery ('Z', length 5) ends the chunk's messages (the server flushes at ReadyForQuery).
function hasReadyForQuery(data) {
  for (let i = 0; i + 5 <= data.length; i += 1 + data.readUInt32BE(i + 1)) if (data[i] === 0x5a) return true;
  return false;
}

function medianOf(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)];
}
