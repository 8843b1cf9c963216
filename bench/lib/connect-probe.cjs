// One connection, the way pglock makes it, timed phase by phase in a fresh process (a child of
// bench/measure/phases.js). Variants switch one lever each, to show what it is worth:
//   plain        TCP, TCP_NODELAY
//   tls          the SSLRequest, then TLS without a CA store (pglock's sslmode prefer / require)
//   tls-nagle    the same without TCP_NODELAY (what postgres.js does by itself)
//   tls-castore  the same with Node's default CA store loaded (what tls.connect does without `ca`)
//   tls-direct   sslnegotiation=direct: TLS at once, no SSLRequest round trip (PostgreSQL 17+)
// Prints one JSON line: milliseconds from the start of the script to the end of each phase.
'use strict';
const started = process.hrtime.bigint();
const ms = () => Number(process.hrtime.bigint() - started) / 1e6;
const [url, variant, postgresPath] = process.argv.slice(2);
const net = require('node:net');
const target = new URL(url);
const times = {};

async function main() {
  const postgres = require(postgresPath);
  times.loaded = ms();
  const socket = await open();
  const sql = postgres({
    host: target.hostname, port: Number(target.port), database: target.pathname.slice(1), username: decodeURIComponent(target.username),
    password: decodeURIComponent(target.password), ssl: false, socket: () => socket, max: 1, fetch_types: false, onnotice: () => {},
  });
  await sql.unsafe('select 1');
  times.query = ms();
  await sql.end({ timeout: 1 });
  process.stdout.write(`${JSON.stringify(times)}\n`);
}

async function open() {
  const noDelay = variant !== 'tls-nagle';
  const socket = net.connect({ host: target.hostname, port: Number(target.port), noDelay });
  if (variant === 'tls-direct') return handshake(socket, true);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  times.tcp = ms();
  if (variant === 'plain') return socket;
  socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
  const answer = await new Promise((resolve) => socket.once('data', (data) => resolve(data[0])));
  times.sslRequest = ms();
  if (answer !== 0x53) throw new Error('the server does not do TLS');
  return handshake(socket, false);
}

async function handshake(socket, direct) {
  const tls = require('node:tls');
  times.tlsLoaded = ms();
  const options = { socket, rejectUnauthorized: false, ...(variant === 'tls-castore' ? {} : { ca: [] }), ...(direct ? { ALPNProtocols: ['postgresql'] } : {}) };
  const secure = tls.connect(options);
  await new Promise((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
  times.tls = ms();
  return secure;
}

main().catch((error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
