import { UsageError } from '../errors.js';
import type { Params } from './keywords.js';

const MALFORMED = 'the database URL is malformed (not shown: it may contain a password)';

// libpq's URI form: postgres[ql]://[user[:password]@][host[:port][,host[:port]]...][/dbname][?k=v&...]
// Hand-parsed: WHATWG URL rejects host lists, and its errors carry the whole input, password
// included, so none of them may escape. The result is libpq parameters: what the URL leaves out is
// left to a service, the environment and the defaults. Query parameters win over the URL's parts,
// as in libpq. A host or port list counts when it says anything: 'h1,h2' has two (empty, so
// default) ports, and PGPORT does not fill them.
export function parseDatabaseUrl(text: string): Params {
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
  const params: Params = new Map();
  // The last @ ends the user info (a password may contain an unescaped @).
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userInfo = authority.slice(0, at);
    const colon = userInfo.indexOf(':');
    const user = decode(colon >= 0 ? userInfo.slice(0, colon) : userInfo);
    if (user) params.set('user', user);
    if (colon >= 0) {
      const password = decode(userInfo.slice(colon + 1));
      if (password) params.set('password', password);
    }
  }
  const hostList = at >= 0 ? authority.slice(at + 1) : authority;
  if (hostList) {
    const { hosts, ports } = parseHostList(hostList);
    if (hosts.length > 1 || hosts[0] !== '') params.set('host', hosts.join(','));
    if (ports.length > 1 || ports[0] !== '') params.set('port', ports.join(','));
  }
  const database = decode(path);
  if (database) params.set('dbname', database);
  for (const [keyword, value] of parseQuery(query)) params.set(keyword, value);
  return params;
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
