// Connections, resolved the way libpq resolves them and opened on a primary. The rest of pglock
// imports from here only; each source of settings has its own file:
//   resolve.ts  the order: string, service, environment, defaults, password file
//   params.ts   a connection string (URL, keyword/value, bare dbname) and the PG* variables
//   keywords.ts the libpq keywords and their variables     url.ts      postgres:// URLs, host lists included
//   keyword-value.ts  host=… port=… strings                service.ts  pg_service.conf files
//   password-file.ts  ~/.pgpass                            hosts.ts    host/port pairing, the socket default
//   tls.ts      sslmode, root and client certificates, verify-full for names and IP addresses
//   session.ts  opening a session (hosts in order, retry)  errors.ts   classifying and telling failures
//   setup.ts    the session setup statement (settings, a lock attempt, the claim after it)
//   transport.ts  the socket (TLS request, per-host checks)  scram.ts  SCRAM with keys salted once per process
export { type ConnectionConfig, type Env, type HostSpec, type SslSetting, type TargetSessionAttrs, describeHost, describeTarget, hostsOf } from './config.js';
export { pickDatabaseUrl, resolveConnectionConfig, resolveConnectionConfig as resolveConnection } from './resolve.js';
export { applicationName, defaultApplicationName } from './application-name.js';
export { passwordsIn, secretsOf } from './secrets.js';
export { type Client, type OpenSessionOptions, type ReservedSql, type Session, openSession, probeBackendPid } from './session.js';
export type { SessionToken, SetupLock } from './setup.js';
export { describeConnectError, errorCode, isOutOfSlots, isRetryable } from './errors.js';
