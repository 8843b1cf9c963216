import { hostname } from 'node:os';

// application_name is at most 63 bytes: `<head>@<host>:<pid>`. The head (pglock:<key>) is cut
// first; a host name so long that fewer than 8 bytes of head would fit is shortened; the pid never.
export function applicationName(head: string, host_: string = hostname(), pid_: number = process.pid): string {
  const pid = `:${pid_}`;
  const host = printable(host_).slice(0, 63 - 8 - 1 - pid.length);
  return `${printable(head).slice(0, 63 - `@${host}${pid}`.length)}@${host}${pid}`;
}

/** The application_name of a lock's connection: `pglock:<key>@<host>:<pid>`. */
export function defaultApplicationName(key: string, host?: string, pid?: number): string {
  return applicationName(`pglock:${key}`, host, pid);
}

// PostgreSQL keeps only printable ASCII in application_name (16+ escapes the rest as \xNN).
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}
