// Connections, resolved the way libpq resolves them and opened on a primary. The rest of pglock
// imports from here only; each source of settings has its own file:
//   url.ts      postgres:// URLs, host lists included      hosts.ts    host/port pairing, target_session_attrs
//   resolve.ts  the order: URL, then the PG* environment   tls.ts      sslmode and certificates
//   session.ts  opening a session (hosts in order, retry)  errors.ts   classifying and telling failures
export { type ConnectionConfig, type Env, type HostSpec, type SslSetting, type TargetSessionAttrs, describeHost, describeTarget, hostsOf } from './config.js';
export { pickDatabaseUrl, resolveConnectionConfig, resolveConnectionConfig as resolveConnection } from './resolve.js';
export { passwordsIn } from './secrets.js';
export { type Client, type OpenSessionOptions, type ReservedSql, type Session, openSession, probeBackendPid } from './session.js';
export { describeConnectError, errorCode, isOutOfSlots, isRetryable } from './errors.js';
