import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { HostSpec, TargetSessionAttrs } from './config.js';

export const DEFAULT_PORT = 5432;
/** Where libpq looks for the server's Unix socket when no host is given (Debian's, then upstream's). */
export const DEFAULT_SOCKET_DIRS = ['/var/run/postgresql', '/tmp'];

// Pair a host list with a port list as libpq does: one port for every host, or one per host; an
// empty entry takes the default (the Unix socket; the port 5432).
export function pairHosts(hosts: string[], ports: string[]): HostSpec[] {
  if (ports.length !== 1 && ports.length !== hosts.length) {
    throw new UsageError(`could not match ${ports.length} port numbers to ${hosts.length} hosts`);
  }
  return hosts.map((host, i) => {
    const port = parsePort(ports.length === 1 ? ports[0]! : ports[i]!);
    return { host: host === '' ? defaultSocketHosts([String(port)])[0]!.host : host, port };
  });
}

/**
 * No host given: the Unix socket, as libpq and psql use it. The directory whose socket for the
 * port exists; if neither has one (yet: the server may be starting), both, in order, so that a
 * connection can still succeed and a failure names every place pglock looked.
 */
export function defaultSocketHosts(ports: string[]): HostSpec[] {
  if (ports.length !== 1) throw new UsageError(`could not match ${ports.length} port numbers to the one default host (the Unix socket)`);
  const port = parsePort(ports[0]!);
  const found = DEFAULT_SOCKET_DIRS.find((dir) => existsSync(join(dir, `.s.PGSQL.${port}`)));
  return (found === undefined ? DEFAULT_SOCKET_DIRS : [found]).map((host) => ({ host, port }));
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
