// Default import only: the CLI bundle loads crypto lazily, on first use (scripts/bundle.js).
import crypto from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
// Default import only: the CLI bundle loads tls lazily, on first use (scripts/bundle.js).
import tls, { type ConnectionOptions as TlsOptions, type PeerCertificate } from 'node:tls';
import { UsageError } from '../errors.js';
import type { Env, HostSpec, SslSetting } from './config.js';
import { homeDir } from './service.js';

// TLS as libpq does it, mapped onto postgres.js:
//  - sslmode disable / allow / prefer / require / verify-ca / verify-full. verify-ca checks the
//    chain; verify-full the chain and the host name, IP addresses included (tlsForHost).
//  - the root certificate: sslrootcert (PGSSLROOTCERT), else ~/.postgresql/root.crt;
//    sslrootcert=system is the system's trusted roots and implies verify-full. As in libpq, when
//    the root certificate file exists, require verifies the chain too (the old verify-ca behaviour).
//  - the client certificate: sslcert / sslkey (PGSSLCERT / PGSSLKEY), else
//    ~/.postgresql/postgresql.crt and .key when they exist; sslpassword decrypts the key. A key file
//    that group or others may read is refused, as libpq refuses it.

export interface TlsFiles {
  rootCert: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  password: string | undefined;
  env: Env;
}

const MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

export function sslSetting(mode: string, files: TlsFiles): SslSetting {
  if (!MODES.includes(mode)) throw new UsageError(`sslmode must be disable, allow, prefer, require, verify-ca or verify-full, got '${mode}'`);
  if (mode === 'disable') return false;
  const dir = join(homeDir(files.env), '.postgresql');
  const system = files.rootCert === 'system';
  if (system && mode !== 'verify-full' && mode !== 'prefer') {
    throw new UsageError(`weak sslmode '${mode}' may not be used with sslrootcert=system (use verify-full)`);
  }
  const effective = system ? 'verify-full' : mode;
  const rootFile = system ? undefined : files.rootCert ?? existing(join(dir, 'root.crt'));
  const client = clientCertificate(files, dir);
  const verify = effective === 'verify-ca' || effective === 'verify-full' || (effective === 'require' && rootFile !== undefined);
  if (!verify && client === undefined) return effective === 'require' ? 'require' : 'prefer';
  if (!verify) return { rejectUnauthorized: false, ...client, ...(effective === 'require' ? {} : { [PREFER_ONLY]: true }) } as TlsOptions;
  if (!system && rootFile === undefined) {
    throw new UsageError(`sslmode=${effective} needs a root certificate: ${join(dir, 'root.crt')} does not exist; give sslrootcert=<file> ` +
      '(PGSSLROOTCERT), use sslrootcert=system for the system\'s trusted roots, or change sslmode');
  }
  const ca = system ? [...tls.rootCertificates] : readPem(rootFile!, 'sslrootcert');
  return {
    rejectUnauthorized: true,
    ca,
    ...client,
    // verify-ca: the chain only. verify-full: replaced per host by tlsForHost.
    checkServerIdentity: () => undefined,
    ...(effective === 'verify-full' ? { [VERIFY_HOST]: true } : {}),
  } as TlsOptions;
}

// Marks a setting whose host name must be checked; tlsForHost binds the check to each host.
const VERIFY_HOST = 'pglockVerifyHost';
// Marks options for sslmode prefer (with a client certificate): plain TCP if the server has no TLS.
const PREFER_ONLY = 'pglockPreferOnly';

/** sslmode prefer (or allow): TLS if the server offers it, else plain TCP. */
export function isPreferOnly(ssl: SslSetting): boolean {
  return ssl === 'prefer' || (typeof ssl === 'object' && PREFER_ONLY in ssl);
}

/**
 * The TLS options for one server. With verify-full the certificate must name the host pglock was
 * given: a DNS name as Node checks it (subjectAltName, else the common name), an IP address
 * against the certificate's IP entries (or, when it has no subjectAltName at all, its common name),
 * as libpq does. postgres.js gives Node's TLS no server name for an IP address, and Node would then
 * check the certificate against "localhost".
 */
export function tlsForHost(ssl: SslSetting, spec: HostSpec): SslSetting {
  if (typeof ssl !== 'object') return ssl;
  const { [VERIFY_HOST]: verifyHost, [PREFER_ONLY]: _, ...options } = ssl as TlsOptions & Record<string, unknown>;
  if (!verifyHost) return options;
  return { ...options, checkServerIdentity: (_name: string, cert: PeerCertificate) => checkHost(spec.host, cert) };
}

export function checkHost(host: string, cert: PeerCertificate): Error | undefined {
  if (!isIP(host)) return tls.checkServerIdentity(host, cert);
  const altNames = cert.subjectaltname ?? '';
  const ips = altNames.split(', ').filter((entry) => entry.startsWith('IP Address:')).map((entry) => entry.slice('IP Address:'.length));
  const wanted = normalizeIp(host);
  if (ips.some((ip) => normalizeIp(ip) === wanted)) return undefined;
  if (altNames === '' && cert.subject?.CN === host) return undefined;
  const named = ips.length > 0 ? `its IP addresses are ${ips.join(', ')}` : altNames ? `it names ${altNames}` : `its common name is ${cert.subject?.CN ?? '(none)'}`;
  return Object.assign(new Error(`the server certificate does not match host name "${host}": ${named}`), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
}

function normalizeIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  // Expand :: and drop leading zeros, so that ::1 and 0:0:0:0:0:0:0:1 compare equal.
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const headParts = head ? head.split(':') : [];
  const tailParts = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const missing = 8 - headParts.length - tailParts.length;
  return [...headParts, ...Array(Math.max(0, missing)).fill('0'), ...tailParts].map((part) => part.replace(/^0+(?=.)/, '')).join(':');
}

function clientCertificate(files: TlsFiles, dir: string): Pick<TlsOptions, 'cert' | 'key' | 'passphrase'> | undefined {
  const certFile = files.cert ?? existing(join(dir, 'postgresql.crt'));
  if (certFile === undefined) return undefined;
  const keyFile = files.key ?? join(dir, 'postgresql.key');
  const cert = readPem(certFile, 'sslcert');
  checkKeyPermissions(keyFile);
  const key = readPem(keyFile, 'sslkey');
  // An encrypted key the passphrase does not open would fail deep inside the TLS handshake: check it
  // now, and say which setting is wrong (never the passphrase itself).
  try {
    crypto.createPrivateKey({ key, ...(files.password === undefined ? {} : { passphrase: files.password }) });
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    const reason = /PASSPHRASE|DECRYPT|INTERRUPTED_OR_CANCELLED/i.test(`${code} ${(error as Error).message}`)
      ? files.password === undefined ? 'it is encrypted: give its passphrase as sslpassword' : 'wrong sslpassword'
      : `not a private key (${code || 'unreadable'})`;
    throw new UsageError(`cannot load the client key sslkey '${keyFile}': ${reason}`);
  }
  return { cert, key, ...(files.password === undefined ? {} : { passphrase: files.password }) };
}

// libpq refuses a private key file that group or others may read (unless root owns it and it is
// at most group-readable, as a system-wide key may be).
function checkKeyPermissions(file: string): void {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return; // reading it reports the error
  }
  const tooOpen = stat.uid === 0 ? (stat.mode & 0o037) !== 0 : (stat.mode & 0o077) !== 0;
  if (tooOpen) {
    throw new UsageError(`private key file ${file} has group or world access; permissions should be u=rw (0600) or less`);
  }
}

function existing(file: string): string | undefined {
  try {
    return statSync(file, { throwIfNoEntry: false })?.isFile() ? file : undefined;
  } catch {
    return undefined;
  }
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${what} '${path}': ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
