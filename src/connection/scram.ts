// Default imports only: the CLI bundle loads crypto lazily, on first use (scripts/bundle.js).
import crypto from 'node:crypto';
import type { Socket } from 'node:net';
import { wrapMethod } from './wrap-method.js';

// SCRAM-SHA-256 (RFC 5802, RFC 7677) with the client's costly step done once per process: the
// salted password is PBKDF2 over the server's salt with its iteration count (4096 by default), a
// millisecond or more of CPU for every new connection, and the same for every connection of a
// role until its password changes. postgres.js computes it each time; pglock lets postgres.js
// start the exchange (its SASLInitialResponse carries the client nonce), then answers the server's
// challenge itself from keys cached by (password, salt, iterations), checks the server's signature,
// and hands postgres.js the stream from AuthenticationOk on, as if postgres.js had done it.
//
// The stream's own `write` and `emit` are wrapped for the exchange only, then restored; anything
// unexpected (another method, an error, a message not understood) ends the wrapping and leaves
// the exchange to postgres.js untouched. Keys are cached under a SHA-256 of the password, never the
// password itself, and only after the server has accepted them.

const SALTED_KEYS_MAX = 64;
interface Keys { clientKey: Buffer; serverKey: Buffer }
const saltedKeys = new Map<string, Keys>();

/** Answer the SCRAM-SHA-256 challenge on this stream with cached keys (see above). */
export function answerScram(stream: Socket, password: string): void {
  const write = stream.write;
  const emit = stream.emit as (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;
  let clientFirstBare: string | undefined;
  let answered: ReturnType<typeof challenge>;
  let carry: Buffer = Buffer.alloc(0);

  const unwrapWrite = wrapMethod(stream, 'write', function (this: Socket, ...args: Parameters<Socket['write']>) {
    const chunk = args[0];
    if (clientFirstBare === undefined && Buffer.isBuffer(chunk)) clientFirstBare = clientFirstOf(chunk);
    return write.apply(this, args);
  } as Socket['write']);
  let unwrapEmit = () => {};

  // Hand the stream back to postgres.js, with what it has not been given yet.
  const handBack = (socket: Socket, rest: Buffer) => {
    unwrapWrite();
    unwrapEmit();
    if (rest.length > 0) emit.call(socket, 'data', rest);
    return true;
  };

  unwrapEmit = wrapMethod(stream, 'emit', function (this: Socket, event: string | symbol, ...args: unknown[]) {
    if (event !== 'data' || !Buffer.isBuffer(args[0])) return emit.call(this, event, ...args);
    carry = carry.length === 0 ? args[0] : Buffer.concat([carry, args[0]]);
    while (carry.length >= 5 && carry.length >= 1 + carry.readUInt32BE(1)) {
      const length = 1 + carry.readUInt32BE(1);
      const message = carry.subarray(0, length);
      const step = message[0] === 0x52 /* R */ && length >= 9 ? message.readUInt32BE(5) : -1;
      if (answered === undefined && step === 10) {
        // The mechanism list: postgres.js answers it (its nonce comes back through write).
        carry = carry.subarray(length);
        emit.call(this, 'data', message);
      } else if (answered === undefined && step === 11 && clientFirstBare !== undefined) {
        answered = challenge(message.toString('utf8', 9), clientFirstBare, password);
        if (answered === undefined) return handBack(this, carry);
        carry = carry.subarray(length);
        write.call(this, answered.message);
      } else if (answered !== undefined && step === 12) {
        const signature = attribute(message.toString('utf8', 9), 'v');
        if (signature === undefined || !sameBytes(Buffer.from(signature, 'base64'), answered.serverSignature)) {
          handBack(this, Buffer.alloc(0));
          this.destroy(Object.assign(new Error('the server did not return the correct SCRAM signature'), { code: 'SASL_SIGNATURE_MISMATCH' }));
          return true;
        }
        remember(answered.cacheKey, answered.keys);
        return handBack(this, carry.subarray(length));
      } else {
        // Not ours (another method, AuthenticationOk, an error such as a wrong password): postgres.js reads it.
        return handBack(this, carry);
      }
    }
    return true;
  } as Socket['emit']);
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

// postgres.js's SASLInitialResponse: 'p', length, 'SCRAM-SHA-256\0', length, 'n,,' + client-first-bare.
function clientFirstOf(chunk: Buffer): string | undefined {
  if (chunk[0] !== 0x70 /* p */) return undefined;
  const mechanism = 'SCRAM-SHA-256\0';
  if (chunk.toString('utf8', 5, 5 + mechanism.length) !== mechanism) return undefined;
  const text = chunk.toString('utf8', 5 + mechanism.length + 4);
  return text.startsWith('n,,') ? text.slice(3) : undefined;
}

function attribute(message: string, name: string): string | undefined {
  const part = message.split(',').find((entry) => entry.startsWith(`${name}=`));
  return part?.slice(name.length + 1);
}

// The server-first message answered: the client-final message, and the signature the server must send.
function challenge(serverFirst: string, clientFirstBare: string, password: string) {
  const nonce = attribute(serverFirst, 'r');
  const salt = attribute(serverFirst, 's');
  const iterations = Number(attribute(serverFirst, 'i'));
  const clientNonce = attribute(clientFirstBare, 'r');
  if (!nonce || !salt || !clientNonce || !nonce.startsWith(clientNonce) || !Number.isInteger(iterations) || iterations < 1) return undefined;
  const cacheKey = `${crypto.createHash('sha256').update(password).digest('base64')}:${salt}:${iterations}`;
  const keys = saltedKeys.get(cacheKey) ?? saltKeys(password, Buffer.from(salt, 'base64'), iterations);
  const clientFinalBare = `c=biws,r=${nonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${clientFinalBare}`;
  const storedKey = crypto.createHash('sha256').update(keys.clientKey).digest();
  const clientSignature = hmac(storedKey, authMessage);
  const proof = Buffer.from(keys.clientKey.map((byte, i) => byte ^ clientSignature[i]!));
  const body = Buffer.from(`${clientFinalBare},p=${proof.toString('base64')}`);
  const message = Buffer.alloc(5 + body.length);
  message[0] = 0x70; // p: SASLResponse
  message.writeUInt32BE(4 + body.length, 1);
  body.copy(message, 5);
  return { message, serverSignature: hmac(keys.serverKey, authMessage), cacheKey, keys };
}

function saltKeys(password: string, salt: Buffer, iterations: number): Keys {
  const salted = crypto.pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  return { clientKey: hmac(salted, 'Client Key'), serverKey: hmac(salted, 'Server Key') };
}

function hmac(key: Buffer, text: string): Buffer {
  return crypto.createHmac('sha256', key).update(text).digest();
}

// Kept once the server has proven it knows them too (its signature checked).
function remember(cacheKey: string, keys: Keys): void {
  if (saltedKeys.has(cacheKey)) return;
  if (saltedKeys.size >= SALTED_KEYS_MAX) saltedKeys.delete(saltedKeys.keys().next().value!);
  saltedKeys.set(cacheKey, keys);
}
