import { DatabaseUnavailableError, type PglockError, StandbyError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { permissionErrorFor } from '../lock/privilege.js';
import { type ConnectionConfig, type HostSpec, describeHost, describeTarget } from './config.js';

// How connection failures are classified and told: which are worth another try, which mean the
// server has no free connection slot, and one line for the user that never holds a password.

const RETRYABLE = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND',
  'EAI_AGAIN', 'ENOENT', 'EPIPE', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED',
  'CONNECTION_DESTROYED', '57P01', '57P02', '57P03', '53300', '53400', '08000', '08001', '08004', '08006',
  // pglock's own: the server is a standby (in a failover, it may be promoted in a moment).
  'ESTANDBY',
]);

const TIMED_OUT = new Set(['CONNECT_TIMEOUT', 'ETIMEDOUT']);

export function isRetryable(error: unknown): boolean {
  return RETRYABLE.has(errorCode(error));
}

/**
 * The server has no connection slot free for us: "too many clients already", "too many
 * connections for role", "remaining connection slots are reserved" (53300), or a configured
 * limit (53400). A waiter keeps trying until its own deadline: slots free up as the queue drains.
 */
export function isOutOfSlots(error: unknown): boolean {
  const code = errorCode(error);
  return code === '53300' || code === '53400';
}

const NETWORK_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  CONNECT_TIMEOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ENOENT: 'no such socket',
  CONNECTION_CLOSED: 'connection closed by the server',
  CONNECTION_ENDED: 'connection ended',
  CONNECTION_DESTROYED: 'connection closed',
  ESTANDBY: 'a standby (in recovery)',
};

// TLS failures, by which check failed. Node's own messages say little ("unable to verify the first
// certificate"); these say what to look at.
const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
]);
const CLIENT_CERT_REJECTED = /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|ACCESS_DENIED|DECRYPT_ERROR|HANDSHAKE_FAILURE)$/;

function describeTlsError(code: string, error: unknown): string | undefined {
  const message = error instanceof Error ? firstLine(error.message) : '';
  if (UNKNOWN_CA.has(code)) return `TLS: the server's certificate is not signed by a trusted CA (check sslrootcert): ${message} (${code})`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `TLS: the server's certificate is not valid now: ${message} (${code})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: host name mismatch (sslmode=verify-full): ${message.replace(/^Hostname\/IP does not match certificate's altnames: /, '')}`;
  if (CLIENT_CERT_REJECTED.test(code)) return `TLS: the server rejected the client certificate, or requires one (check sslcert and sslkey): ${message} (${code})`;
  if (/^ERR_OSSL_|^ERR_SSL_/.test(code) && /bad decrypt|BAD_DECRYPT|passphrase/i.test(`${code} ${message}`)) return `TLS: cannot decrypt the client key: wrong or missing sslpassword (${code})`;
  if (/^ERR_SSL_|^ERR_TLS_/.test(code)) return `TLS handshake failed: ${message} (${code})`;
  return undefined;
}

/** One line saying why a connection failed: the server's message, or the network error. */
export function describeConnectError(error: unknown): string {
  const code = errorCode(error);
  if (NETWORK_TEXT[code]) return code === 'ESTANDBY' ? NETWORK_TEXT[code] : `${NETWORK_TEXT[code]} (${code})`;
  const tls = describeTlsError(code, error);
  if (tls) return tls;
  const message = error instanceof Error ? firstLine(error.message) : String(error);
  const slots = isOutOfSlots(error) ? 'no free connection slot: ' : '';
  return code ? `${slots}${message} (${code})` : message;
}

/** What happened at each host of one round of attempts. */
export interface HostFailure {
  spec: HostSpec;
  error: unknown;
}

export function standbyError(config: ConnectionConfig, spec: HostSpec): StandbyError {
  return new StandbyError(
    `${describeTarget(config, spec)} is a standby (in recovery): advisory locks are not replicated, so a lock taken there ` +
      'would exclude no one on the primary; point pglock at the primary (the writer endpoint), or list every host so it can find the primary',
  );
}

/**
 * The final error after the connect deadline: one host's cause, or each host and what it was. A
 * primary that refused the setup statement's advisory-lock call for want of a privilege: a
 * PermissionError instead (exit 77), with the GRANT to run.
 */
export function unavailableError(config: ConnectionConfig, failures: HostFailure[], timeoutMs: number, retried: boolean): PglockError {
  const denied = failures.map(({ error }) => permissionErrorFor(error, config.user)).find((error) => error !== undefined);
  if (denied) return denied;
  // How long pglock tried: after several rounds, or when one attempt used up the whole time.
  const timedOut = failures.some(({ error }) => TIMED_OUT.has(errorCode(error)));
  const within = retried || timedOut ? ` within ${formatDuration(timeoutMs)}` : '';
  if (failures.length === 1) {
    const { spec, error } = failures[0]!;
    if (errorCode(error) === 'ESTANDBY') return standbyError(config, spec);
    return singleHostError(config, spec, error, within);
  }
  const each = failures.map(({ spec, error }) => `${describeHost(spec)}: ${describeConnectError(error)}`).join('; ');
  const allStandby = failures.every(({ error }) => errorCode(error) === 'ESTANDBY');
  const why = allStandby ? ' (every host is a standby: pglock locks only on a primary)' : '';
  const auth = failures.find(({ error }) => ['28P01', '28000'].includes(errorCode(error)));
  const message = `cannot connect to a primary of ${describeTarget(config)}${within}${why}: ${each}`;
  if (allStandby) return new StandbyError(message);
  return new DatabaseUnavailableError(message, {
    cause: failures.at(-1)?.error,
    code: auth && failures.every(({ error }) => !isRetryable(error)) ? 'EAUTH' : 'EUNAVAILABLE',
  });
}

function singleHostError(config: ConnectionConfig, spec: HostSpec, error: unknown, within: string): DatabaseUnavailableError {
  const target = describeTarget(config, spec);
  const code = errorCode(error);
  const reason = describeConnectError(error);
  if (code === '28P01' || code === '28000') {
    const file = config.password === undefined && spec.password !== undefined ? ` (password from the password file ${config.passwordFile})` : '';
    return new DatabaseUnavailableError(`authentication failed for ${target}: ${reason}${file}`, { cause: error, code: 'EAUTH' });
  }
  if (code === '3D000') {
    return new DatabaseUnavailableError(`database '${config.database}' does not exist at ${target}`, { cause: error, code: 'ENODATABASE' });
  }
  const slots = isOutOfSlots(error) ? '; running sessions are not affected' : '';
  return new DatabaseUnavailableError(`cannot connect to ${target}${within}: ${reason}${slots}`, {
    cause: error,
    ...(isOutOfSlots(error) ? { code: 'ETOOMANY' } : {}),
  });
}

export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}
