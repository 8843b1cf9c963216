// Where a warm section's time goes (issue 30): a lock session's fail-fast section beside the bare
// postgres.js try + unlock, and withTransactionLock beside a bare transaction, each section cut at
// the moments its socket sends and receives. A round trip runs from a write to the first data that
// comes back after it (the server's work, and the kernel's on both sides); what is left of the
// section is the client's own time (pglock's JavaScript and postgres.js's, and Node's event loop).
// The tap (net.Socket.prototype's write and emit wrapped while this runs) costs the same few
// microseconds per event on both sides of a pair. Sections in turn, A, B, A, B ...
import net from 'node:net';

export async function measureWarmSplit({ count, warmups, pairs }) {
  const proto = net.Socket.prototype;
  const { write, emit } = proto;
  let events;
  proto.write = function (...args) {
    events?.push(['send', performance.now()]);
    return write.apply(this, args);
  };
  proto.emit = function (event, ...args) {
    if (event === 'data') events?.push(['recv', performance.now()]);
    return emit.call(this, event, ...args);
  };
  const samples = {};
  try {
    for (const cases of pairs) {
      for (const name of Object.keys(cases)) samples[name] = [];
      for (let i = 0; i < warmups + count; i++) {
        for (const [name, section] of Object.entries(cases)) {
          events = [];
          const started = performance.now();
          await section(i);
          const total = performance.now() - started;
          const seen = events;
          events = undefined;
          if (i >= warmups) samples[name].push(split(seen, total));
        }
      }
    }
  } finally {
    proto.write = write;
    proto.emit = emit;
  }
  return Object.fromEntries(Object.entries(samples).map(([name, list]) => [name, {
    n: list.length,
    total: median(list.map((s) => s.total)),
    roundTrips: median(list.map((s) => s.trips)),
    inRoundTrips: median(list.map((s) => s.waiting)),
    client: median(list.map((s) => s.total - s.waiting)),
  }]));
}

// The round trips of one section: each write that has no answer pending opens one, the next data closes it.
function split(seen, total) {
  let trips = 0;
  let waiting = 0;
  let sentAt;
  for (const [what, at] of seen) {
    if (what === 'send' && sentAt === undefined) sentAt = at;
    if (what === 'recv' && sentAt !== undefined) {
      trips++;
      waiting += at - sentAt;
      sentAt = undefined;
    }
  }
  return { total, trips, waiting };
}

function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)];
}
