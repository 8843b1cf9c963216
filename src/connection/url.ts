import { UsageError } from '../errors.js';

/** What a postgres:// URL says; absent parts are left to the environment and defaults. */
export interface UrlParts {
  /** The host list as written (comma-separated entries, each decoded). */
  hosts?: string[];
  /** The port list, one per host entry ('' where an entry has none). */
  ports?: string[];
  database?: string;
  user?: string;
  password?: string;
  params: Map<string, string>;
}

const MALFORMED = 'the database URL is malformed (not shown: it may contain a password)';

// libpq's URI form: postgres[ql]://[user[:password]@][host[:port][,host[:port]]...][/dbname][?k=v&...]
// Hand-parsed: WHATWG URL rejects host lists, and its errors carry the whole input, password
// included, so none of them may escape.
export function parseDatabaseUrl(text: string): UrlParts {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (!scheme) throw new UsageError(MALFORMED);
  const protocol = scheme[1]!.toLowerCase();
  if (protocol !== 'postgres' && protocol !== 'postgresql') {
    throw new UsageError(`the database URL must start with postgres:// or postgresql://, got '${protocol}://'`);
  }
  let rest = text.slice(scheme[0].length);
  const queryAt = rest.indexOf('?');
  const query = queryAt >= 0 ? rest.slice(queryAt + 1) : '';
  if (queryAt >= 0) rest = rest.slice(0, queryAt);
  const slash = rest.indexOf('/');
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash + 1) : '';
  const parts: UrlParts = { params: parseQuery(query) };
  // The last @ ends the user info (a password may contain an unescaped @).
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userInfo = authority.slice(0, at);
    const colon = userInfo.indexOf(':');
    const user = decode(colon >= 0 ? userInfo.slice(0, colon) : userInfo);
    if (user) parts.user = user;
    if (colon >= 0) {
      const password = decode(userInfo.slice(colon + 1));
      if (password) parts.password = password;
    }
  }
  const hostList = at >= 0 ? authority.slice(at + 1) : authority;
  if (hostList) Object.assign(parts, parseHostList(hostList));
  const database = decode(path);
  if (database) parts.database = database;
  const user = parts.params.get('user');
  if (user) parts.user = user;
  return parts;
}

function parseHostList(text: string): { hosts: string[]; ports: string[] } {
  const hosts: string[] = [];
  const ports: string[] = [];
  for (const entry of text.split(',')) {
    // A port that is not a number means the URL was cut in the wrong place (a '/' in a password
    // ends the host list early): say only that it is malformed, never the text.
    const match = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d*))?$/.exec(entry);
    if (!match) throw new UsageError(MALFORMED);
    hosts.push(decode(match[1] ?? match[2] ?? ''));
    ports.push(match[3] ?? '');
  }
  return { hosts, ports };
}

function parseQuery(query: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const pair of query.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    // Not shown: a mistyped parameter may be a password.
    if (eq <= 0) throw new UsageError('the database URL has a query parameter without "=" (not shown: it may contain a password)');
    params.set(decode(pair.slice(0, eq)), decode(pair.slice(eq + 1)));
  }
  return params;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UsageError(MALFORMED);
  }
}
