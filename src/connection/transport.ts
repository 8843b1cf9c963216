// Default imports only: the CLI bundle loads crypto and tls lazily, on first use (scripts/bundle.js).
import crypto from 'node:crypto';
import { type Socket, connect as connectTcp, isIP } from 'node:net';
import { join } from 'node:path';
import tls, { type ConnectionOptions as TlsOptions, type TLSSocket } from 'node:tls';
import type { HostSpec, SslSetting } from './config.js';
import { answerScram } from './scram.js';
import { wrapMethod } from './wrap-method.js';
import { isPreferOnly, tlsForHost } from './tls.js';

// The socket under every connection pglock opens, made here rather than by postgres.js, which
// hands postgres.js a ready stream (its `socket` option) and is told not to negotiate TLS itself:
//  - TCP_NODELAY is set before the first byte: PostgreSQL's startup, authentication and TLS
//    handshakes are small writes that would otherwise wait on Nagle's algorithm and delayed ACKs;
//  - the SSLRequest is pglock's own, so a server that answers "no TLS" is told apart from a dropped
//    connection (sslmode=require: an error that says so; prefer: plain TCP);
//  - the TLS options are per host: verify-full checks the host pglock was given, IP addresses
//    included, and SNI carries DNS names only; no CA store is loaded where no check uses it;
//  - with a password, node:crypto (which authentication needs, and which the CLI loads on first
//    use: 3-8 ms) is loaded right after the startup message has gone out, while the server starts
//    the backend and looks up the role, instead of when the server's authentication request comes;
//    and a SCRAM challenge is answered with keys salted once per process (scram.ts).
// Unix sockets never use TLS, as in libpq.

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

export interface TransportError extends Error {
  code: string;
}

export interface TransportOptions {
  ssl: SslSetting;
  timeoutMs: number;
  /** sslnegotiation=direct: TLS from the first byte, without an SSLRequest. */
  directTls?: boolean;
  /** Called as soon as the socket is connecting, while the server accepts it and starts a backend. */
  onConnecting?: (() => void) | undefined;
  /**
   * The password, when one will be sent: node:crypto is loaded while the server handles the startup
   * message, and a SCRAM challenge is answered from keys cached for the process (scram.ts).
   */
  password?: string | undefined;
}

/** Connect to one server within `timeoutMs`: a plain or TLS stream, ready for the startup message. */
export async function openTransport(spec: HostSpec, options: TransportOptions): Promise<Socket | TLSSocket> {
  const stream = await connectStream(spec, options);
  if (options.password !== undefined) {
    answerScram(stream, options.password);
    loadCryptoAfterFirstWrite(stream);
  }
  return stream;
}

async function connectStream(spec: HostSpec, { ssl, timeoutMs, directTls = false, onConnecting }: TransportOptions): Promise<Socket | TLSSocket> {
  const deadline = Date.now() + timeoutMs;
  const unix = spec.host.startsWith('/');
  const socket = unix
    ? connectTcp({ path: join(spec.host, `.s.PGSQL.${spec.port}`) })
    : connectTcp({ host: spec.host, port: spec.port, noDelay: true });
  // Never from within the caller's own call (the socket may be opened before any await).
  if (onConnecting) queueMicrotask(onConnecting);
  try {
    if (!unix && ssl !== false && directTls) {
      // sslnegotiation=direct: the TLS handshake starts as soon as TCP connects; the server knows
      // it for PostgreSQL by the ALPN protocol name.
      const secure = tls.connect({ ...tlsOptions(ssl, spec), socket, ALPNProtocols: ['postgresql'], ...(isIP(spec.host) ? {} : { servername: spec.host }) });
      await within(deadline, secure, (done) => secure.once('secureConnect', () => done()));
      return secure;
    }
    await within(deadline, socket, (done) => socket.once('connect', () => done()));
    if (unix || ssl === false) return socket;
    socket.write(SSL_REQUEST);
    const answer = await within<number>(deadline, socket, (done) => socket.once('data', (data: Buffer) => done(data[0] ?? 0)));
    if (answer === 0x4e /* N */) {
      if (ssl === 'prefer' || isPreferOnly(ssl)) return socket;
      throw failure('ENOTLS', 'the server does not accept TLS connections, and the sslmode requires TLS');
    }
    if (answer !== 0x53 /* S */) throw failure('EPROTO', 'the server did not answer the TLS request as PostgreSQL does');
    const secure = tls.connect({ ...tlsOptions(ssl, spec), socket, ...(isIP(spec.host) ? {} : { servername: spec.host }) });
    await within(deadline, secure, (done) => secure.once('secureConnect', () => done()));
    return secure;
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

// The stream's first write is the startup message (postgres.js writes each message whole, at once).
// node:crypto is loaded once that write has returned (the bytes are with the kernel), in the next
// turn of the event loop; the first call takes the wrapper off again (the stream then writes
// through its prototype, as any other socket does).
function loadCryptoAfterFirstWrite(stream: Socket): void {
  const write = stream.write;
  const unwrap = wrapMethod(stream, 'write', function (this: Socket, ...args: Parameters<Socket['write']>) {
    unwrap();
    const result = write.apply(this, args);
    setImmediate(() => crypto.randomBytes);
    return result;
  } as Socket['write']);
}

// prefer / require check nothing: no CA store (loading Node's default one costs ~17 ms).
function tlsOptions(ssl: Exclude<SslSetting, false>, spec: HostSpec): TlsOptions {
  if (ssl === 'prefer' || ssl === 'require') return { rejectUnauthorized: false, ca: [] };
  const options = tlsForHost(ssl, spec) as TlsOptions;
  return options.rejectUnauthorized === false ? { ca: [], ...options } : options;
}

// Wait for `start` to call done, unless the socket fails, closes, or the deadline passes first.
function within<T = void>(deadline: number, socket: Socket, start: (done: (value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(failure('CONNECT_TIMEOUT', 'connection timed out')), Math.max(0, deadline - Date.now()));
    const onError = (error: Error) => finish(error);
    const onClose = () => finish(failure('ECONNRESET', 'the server closed the connection'));
    socket.once('error', onError);
    socket.once('close', onClose);
    start((value) => finish(undefined, value));
    function finish(error: Error | undefined, value?: T) {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve(value as T);
    }
  });
}

function failure(code: string, message: string): TransportError {
  return Object.assign(new Error(message), { code });
}
