// SCRAM-SHA-256 with the salted password derived once per process (src/connection/scram.ts): on a
// real server, a role's later connections reuse the keys; a changed password (a new salt) derives
// them anew; a wrong password is refused as before and caches nothing; md5 and cleartext roles are
// left to postgres.js; and a server that cannot prove it knows the password is refused.
import crypto from 'node:crypto';
import { type AddressInfo, type Socket, createServer } from 'node:net';
import t from 'tap';
import { DatabaseUnavailableError, acquireLock, withLock } from '../src/index.js';
import { startTestServer, uniqueKey } from './helpers/server.js';

// The PBKDF2 runs in this process, by password (pglock's scram.ts and postgres.js call it through
// this object; the admin client's own connections count under its password).
const derivations = new Map<string, number>();
const pbkdf2Sync = crypto.pbkdf2Sync;
crypto.pbkdf2Sync = ((...args: Parameters<typeof pbkdf2Sync>) => {
  derivations.set(String(args[0]), (derivations.get(String(args[0])) ?? 0) + 1);
  return pbkdf2Sync(...args);
}) as typeof pbkdf2Sync;
t.teardown(() => {
  crypto.pbkdf2Sync = pbkdf2Sync;
});

const role = (name: string) => `pglock_${name}_${process.pid}`;
const MD5 = role('md5');
const CLEAR = role('clear');
const server = await startTestServer(t, {
  own: true,
  hba: [`host all ${MD5} all md5`, `host all ${CLEAR} all password`],
});
const { admin } = server;

function urlFor(user: string, password: string): string {
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return `postgres://${user}:${encodeURIComponent(password)}@${host}:${server.port}/${encodeURIComponent(server.database)}?sslmode=disable`;
}

async function createRole(name: string, password: string, encryption = 'scram-sha-256'): Promise<string> {
  await admin.unsafe(`drop role if exists ${name}`);
  await admin.begin(async (tx) => {
    await tx.unsafe(`set local password_encryption = '${encryption}'`);
    await tx.unsafe(`create role ${name} login password '${password}'`);
  });
  t.teardown(async () => {
    await admin.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where usename = '${name}'`).catch(() => undefined);
    await admin.unsafe(`drop role if exists ${name}`).catch(() => undefined);
  });
  return urlFor(name, password);
}

// What one call costs in PBKDF2 runs of the password its URL carries.
async function derivationsOf(url: string, fn: () => Promise<unknown>): Promise<number> {
  const password = decodeURIComponent(new URL(url).password);
  const before = derivations.get(password) ?? 0;
  await fn();
  return (derivations.get(password) ?? 0) - before;
}

t.test('a role\'s salted password is derived once per process, then reused', async (t) => {
  const name = role('scram');
  const url = await createRole(name, `pw-${crypto.randomBytes(6).toString('hex')}`);
  const key = uniqueKey('scram');
  t.equal(await derivationsOf(url, () => withLock({ url, key }, () => undefined)), 1, 'the first connection derives it');
  let again = 0;
  for (let i = 0; i < 4; i++) again += await derivationsOf(url, () => withLock({ url, key }, () => undefined));
  t.equal(again, 0, 'four more connections: none derives it');

  await t.test('a new password (a new salt) is derived anew; the old one is refused', async (t) => {
    const password = `pw-${crypto.randomBytes(6).toString('hex')}`;
    await admin.unsafe(`alter role ${name} password '${password}'`);
    const fresh = urlFor(name, password);
    t.equal(await derivationsOf(fresh, () => withLock({ url: fresh, key }, () => undefined)), 1);
    t.equal(await derivationsOf(fresh, () => withLock({ url: fresh, key }, () => undefined)), 0);
    for (let i = 0; i < 2; i++) {
      const refused = await acquireLock({ url, key }).catch((error: unknown) => error);
      t.type(refused, DatabaseUnavailableError);
      t.match((refused as DatabaseUnavailableError).code, 'EAUTH');
      t.match((refused as Error).message, /password authentication failed/);
      t.notMatch((refused as Error).message, /pw-/, 'no password in the message');
    }
  });
});

t.test('a wrong password is refused every time, and nothing is cached for it', async (t) => {
  const name = role('wrong');
  await createRole(name, `pw-${crypto.randomBytes(6).toString('hex')}`);
  const url = urlFor(name, 'not-the-password');
  for (let i = 0; i < 2; i++) {
    let refused: unknown;
    t.equal(await derivationsOf(url, async () => (refused = await acquireLock({ url, key: uniqueKey('wrong') }).catch((error: unknown) => error))), 1, 'derived, refused, not kept');
    t.match((refused as DatabaseUnavailableError).code, 'EAUTH');
  }
});

t.test('md5 and cleartext password roles are answered by postgres.js as before', async (t) => {
  const md5 = await createRole(MD5, 'md5-password', 'md5');
  const clear = await createRole(CLEAR, 'clear-password');
  for (const url of [md5, clear]) {
    t.equal(await withLock({ url, key: uniqueKey('md5') }, (lock) => lock.isHeld), true);
    t.equal(await withLock({ url, key: uniqueKey('md5') }, (lock) => lock.isHeld), true);
  }
  const refused = await acquireLock({ url: urlFor(MD5, 'wrong'), key: uniqueKey('md5') }).catch((error: unknown) => error);
  t.match((refused as DatabaseUnavailableError).code, 'EAUTH');
});

t.test('a server that sends the wrong SCRAM signature is refused', async (t) => {
  const fake = createServer((socket) => fakeScramServer(socket));
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => fake.close(resolve)));
  const { port } = fake.address() as AddressInfo;
  const url = `postgres://someone:secret@127.0.0.1:${port}/db?sslmode=disable&connect_timeout=2`;
  const refused = await acquireLock({ url, key: 'fake' }).catch((error: unknown) => error);
  t.type(refused, DatabaseUnavailableError);
  t.match((refused as Error).message, /SCRAM signature/);
  t.notMatch((refused as Error).message, /secret/);
  t.equal(await derivationsOf(url, async () => acquireLock({ url, key: 'fake' }).catch(() => undefined)), 1, 'nothing was cached');
});

// Speaks the protocol up to SASLFinal, and signs it with a key that is not the password's.
function fakeScramServer(socket: Socket): void {
  let buffer = Buffer.alloc(0);
  let stage = 0;
  let nonce = '';
  socket.on('error', () => undefined);
  socket.on('data', (data) => {
    buffer = Buffer.concat([buffer, data]);
    for (;;) {
      const typed = stage > 0;
      const at = typed ? 1 : 0;
      if (buffer.length < at + 4 || buffer.length < at + buffer.readUInt32BE(at)) return;
      const length = at + buffer.readUInt32BE(at);
      const message = buffer.subarray(0, length);
      buffer = buffer.subarray(length);
      if (stage === 0) {
        stage = 1;
        socket.write(auth(10, Buffer.from('SCRAM-SHA-256\0\0')));
      } else if (stage === 1) {
        nonce = /r=([^,]+)/.exec(message.toString('utf8'))![1]!;
        stage = 2;
        socket.write(auth(11, Buffer.from(`r=${nonce}server,s=${crypto.randomBytes(16).toString('base64')},i=4096`)));
      } else {
        stage = 3;
        socket.write(auth(12, Buffer.from(`v=${crypto.randomBytes(32).toString('base64')}`)));
      }
    }
  });
}

function auth(code: number, body: Buffer): Buffer {
  const message = Buffer.alloc(9 + body.length);
  message[0] = 0x52;
  message.writeUInt32BE(8 + body.length, 1);
  message.writeUInt32BE(code, 5);
  body.copy(message, 9);
  return message;
}
