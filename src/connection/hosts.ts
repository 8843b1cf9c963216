import { UsageError } from '../errors.js';
import type { HostSpec, TargetSessionAttrs } from './config.js';

export const DEFAULT_PORT = 5432;
export const DEFAULT_HOST = 'localhost';

// Pair a host list with a port list as libpq does: one port for every host, or one per host; an
// empty entry takes the default.
export function pairHosts(hosts: string[], ports: string[]): HostSpec[] {
  if (ports.length !== 1 && ports.length !== hosts.length) {
    throw new UsageError(`could not match ${ports.length} port numbers to ${hosts.length} hosts`);
  }
  return hosts.map((host, i) => ({
    host: host === '' ? DEFAULT_HOST : host,
    port: parsePort(ports.length === 1 ? ports[0]! : ports[i]!),
  }));
}

export function parsePort(text: string): number {
  if (text === '') return DEFAULT_PORT;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new UsageError(`the database port must be a number from 1 to 65535, got '${text}'`);
  }
  return port;
}

const STANDBY_ONLY = new Set(['read-only', 'standby', 'prefer-standby']);

// pglock takes its lock only on a primary: advisory locks are not replicated, so a lock on a
// standby excludes no one. Values that allow a primary are accepted (pglock checks for one
// itself); values that ask for a standby cannot be honoured.
export function parseTargetSessionAttrs(value: string | undefined): TargetSessionAttrs | undefined {
  if (value === undefined) return undefined;
  if (value === 'any' || value === 'read-write' || value === 'primary') return value;
  if (STANDBY_ONLY.has(value)) {
    throw new UsageError(
      `target_session_attrs=${value} asks for a standby, and pglock locks only on a primary ` +
        '(advisory locks are not replicated: a lock on a standby excludes no one); use any, read-write or primary',
    );
  }
  throw new UsageError(`target_session_attrs must be any, read-write or primary, got '${value}'`);
}
