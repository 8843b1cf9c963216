// Host lists as libpq reads them (issue 10): a URL's comma-separated host[:port] entries, the
// host= and port= parameters, PGHOST/PGPORT lists, one port for every host, the defaults for empty
// entries, and target_session_attrs. Each expectation is libpq's documented behaviour (libpq.sgml
// "Connection URIs" and "Parameter Key Words"; fe-connect.c conninfo_uri_parse_options and
// pqConnectOptions2), except where pglock deliberately refuses what it cannot honour (a standby).
import t from 'tap';
import { type ConnectionConfig, describeHost, describeTarget, hostsOf, resolveConnectionConfig } from '../../src/connection/index.js';

const hosts = (url: string | undefined, env: Record<string, string> = {}) => hostsOf(resolveConnectionConfig(url, env));

/** The error resolveConnectionConfig throws (an Error named 'none' when it throws none). */
function errorOf(url: string | undefined, env: Record<string, string> = {}): Error {
  try {
    resolveConnectionConfig(url, env);
  } catch (error) {
    return error as Error;
  }
  return Object.assign(new Error('(resolved without an error)'), { name: 'none' });
}

t.test('a URL with a port per host: every host in order, each with its own port', async (t) => {
  const config = resolveConnectionConfig('postgres://u:p@h1:5432,h2:5433/db', {});
  t.same(hostsOf(config), [{ host: 'h1', port: 5432 }, { host: 'h2', port: 5433 }]);
  t.match(config, { host: 'h1', port: 5432, user: 'u', password: 'p', database: 'db' }, 'host and port are the first entry');
  t.same(hosts('postgresql://node1,node2:5433,node3:4432,node4/mydb'), [
    { host: 'node1', port: 5432 }, { host: 'node2', port: 5433 }, { host: 'node3', port: 4432 }, { host: 'node4', port: 5432 },
  ], 'an entry without a port gets the default port (5432)');
  t.same(hosts('postgres://u@h1:6000,h2/db', { PGPORT: '7000' }), [{ host: 'h1', port: 6000 }, { host: 'h2', port: 5432 }],
    'an empty item of a port list is the built-in default, not PGPORT (the URL gave the port list)');
});

t.test('a URL host list without any port is a list of empty ports: the default port, not PGPORT', async (t) => {
  // libpq: postgresql://host1:port1,host2:port2/ is "host=host1,host2 port=port1,port2", so
  // postgres://h1,h2/db is "host=h1,h2 port=," — two empty items, each the built-in default;
  // PGPORT only applies when no port option was given at all.
  t.same(hosts('postgres://u@h1,h2/db', {}), [{ host: 'h1', port: 5432 }, { host: 'h2', port: 5432 }]);
  t.same(hosts('postgres://u@h1,h2/db', { PGPORT: '6000' }), [{ host: 'h1', port: 5432 }, { host: 'h2', port: 5432 }],
    'libpq: port="," is set by the URL, so PGPORT is not consulted');
  t.same(hosts('postgres://u@h1/db', { PGPORT: '6000' }), [{ host: 'h1', port: 6000 }], 'one host without a port: PGPORT fills it');
});

t.test('a URL port list with empty host entries: each entry is the default host', async (t) => {
  // libpq: postgres://:5433,:5434/db is "host=, port=5433,5434": two hosts, both the default one.
  const defaultHost = hosts('postgres://u@/db')[0]!.host;
  let list: ReturnType<typeof hosts> | undefined;
  t.doesNotThrow(() => (list = hosts('postgres://u@:5433,:5434/db')), 'two port entries for two (empty) host entries');
  t.same(list, [{ host: defaultHost, port: 5433 }, { host: defaultHost, port: 5434 }]);
  t.same(hosts('postgres://u@h1,/db'), [{ host: 'h1', port: 5432 }, { host: defaultHost, port: 5432 }], 'an empty host item is the default host');
  t.same(hosts('postgres://u@:5433/db', { PGHOST: 'envhost' }), [{ host: 'envhost', port: 5433 }], 'no host at all in the URL: PGHOST fills it');
});

t.test('IPv6 addresses in brackets, alone or in a list', async (t) => {
  t.same(hosts('postgres://u@[::1]/db'), [{ host: '::1', port: 5432 }]);
  const config = resolveConnectionConfig('postgres://u@[::1]:5433,[2001:db8::1234],h3:5435/db', {});
  t.same(hostsOf(config), [{ host: '::1', port: 5433 }, { host: '2001:db8::1234', port: 5432 }, { host: 'h3', port: 5435 }]);
  t.equal(describeTarget(config), 'u@[::1]:5433,[2001:db8::1234]:5432,h3:5435/db', 'described with brackets again');
});

t.test('a Unix socket directory as the host: percent-encoded in the URL, or as ?host=', async (t) => {
  t.same(hosts('postgres://u@%2Fvar%2Frun%2Fpostgresql/db'), [{ host: '/var/run/postgresql', port: 5432 }]);
  t.same(hosts('postgresql://%2Fvar%2Flib%2Fpostgresql/dbname'), [{ host: '/var/lib/postgresql', port: 5432 }], 'the libpq docs example');
  t.same(hosts('postgres://u@%2Ftmp:5433/db'), [{ host: '/tmp', port: 5433 }], 'with a port: the socket is /tmp/.s.PGSQL.5433');
  t.same(hosts('postgres://u@/db?host=/tmp&port=5433'), [{ host: '/tmp', port: 5433 }]);
  t.same(hosts('postgresql:///dbname?host=/var/lib/postgresql'), [{ host: '/var/lib/postgresql', port: 5432 }], 'the libpq docs example');
  t.same(hosts('postgres:///db?host=%2Ftmp'), [{ host: '/tmp', port: 5432 }], 'a percent-encoded parameter value is decoded');
  const mixed = resolveConnectionConfig('postgres://u@%2Ftmp:5433,db.example:5434/db', {});
  t.same(hostsOf(mixed), [{ host: '/tmp', port: 5433 }, { host: 'db.example', port: 5434 }], 'a socket and a TCP host in one list');
  t.equal(describeTarget(mixed), 'u@/tmp/.s.PGSQL.5433,db.example:5434/db');
  t.equal(describeHost({ host: '/var/run/postgresql/', port: 5432 }), '/var/run/postgresql/.s.PGSQL.5432', 'a trailing slash is not doubled');
});

t.test('host= and port= parameters override the URL\'s own (they come later, as in libpq)', async (t) => {
  t.same(hosts('postgres://u@x/db?host=a,b&port=1,2'), [{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
  t.same(hosts('postgres://u@h1:5433/db?host=/tmp'), [{ host: '/tmp', port: 5433 }], 'host replaced, the URL\'s port kept');
  t.same(hosts('postgres://u@h1,h2/db?port=7000'), [{ host: 'h1', port: 7000 }, { host: 'h2', port: 7000 }], 'one port for every host');
  t.same(hosts('postgres:///db?host=a,b', { PGHOST: 'envhost', PGPORT: '6000' }), [{ host: 'a', port: 6000 }, { host: 'b', port: 6000 }],
    'a host parameter wins over PGHOST; PGPORT still gives the port');
});

t.test('PGHOST and PGPORT lists', async (t) => {
  t.same(hosts(undefined, { PGHOST: 'h1,h2', PGPORT: '5432,5433' }), [{ host: 'h1', port: 5432 }, { host: 'h2', port: 5433 }]);
  t.same(hosts(undefined, { PGHOST: 'h1,h2,h3', PGPORT: '6000' }), [
    { host: 'h1', port: 6000 }, { host: 'h2', port: 6000 }, { host: 'h3', port: 6000 },
  ], 'one port for every host');
  t.same(hosts(undefined, { PGHOST: 'h1,h2' }), [{ host: 'h1', port: 5432 }, { host: 'h2', port: 5432 }], 'no PGPORT: the default port');
  t.same(hosts(undefined, { PGHOST: 'h1,h2', PGPORT: ',5433' }), [{ host: 'h1', port: 5432 }, { host: 'h2', port: 5433 }], 'an empty item is the default');
  t.same(hosts(undefined, { PGHOST: '/tmp,h2', PGPORT: '5433,5434' }), [{ host: '/tmp', port: 5433 }, { host: 'h2', port: 5434 }], 'a socket directory in the list');
  t.same(hosts('postgres://u@/db', { PGHOST: 'h1,h2', PGPORT: '1,2' }), [{ host: 'h1', port: 1 }, { host: 'h2', port: 2 }], 'a URL without hosts: the environment fills them');
  t.same(hosts('postgres://u@urlhost/db', { PGHOST: 'h1,h2', PGPORT: '6000' }), [{ host: 'urlhost', port: 6000 }], 'the URL\'s host wins over PGHOST');
  const config = resolveConnectionConfig(undefined, { PGHOST: 'h1,h2', PGPORT: '5432,5433', PGUSER: 'bob', PGDATABASE: 'app' });
  t.equal(describeTarget(config), 'bob@h1:5432,h2:5433/app');
});

t.test('port and host counts that do not match: a usage error (exit 64), as libpq words it', async (t) => {
  const cases: [string | undefined, Record<string, string>, string][] = [
    ['postgres://u@h1,h2,h3/db?port=1,2', {}, 'could not match 2 port numbers to 3 hosts'],
    ['postgres://u@h1:1,h2:2/db?host=a', {}, 'could not match 2 port numbers to 1 hosts'],
    ['postgres://u@h1/db?port=1,2', {}, 'could not match 2 port numbers to 1 hosts'],
    [undefined, { PGHOST: 'a,b,c', PGPORT: '1,2' }, 'could not match 2 port numbers to 3 hosts'],
    [undefined, { PGHOST: 'a', PGPORT: '1,2' }, 'could not match 2 port numbers to 1 hosts'],
    ['postgres://u@/db', { PGHOST: 'a,b', PGPORT: '1,2,3' }, 'could not match 3 port numbers to 2 hosts'],
  ];
  for (const [url, env, message] of cases) {
    const error = errorOf(url, env);
    t.match(error, { name: 'UsageError', exitCode: 64 }, `${url ?? ''} ${JSON.stringify(env)}`);
    t.equal(error.message, message);
  }
  t.match(errorOf('postgres://u@h1,h2:99999/db'), { name: 'UsageError', exitCode: 64, message: /port/ }, 'a port out of range');
  t.match(errorOf(undefined, { PGHOST: 'a,b', PGPORT: '1,x' }), { name: 'UsageError', exitCode: 64, message: /port/ }, 'a port that is not a number');
});

t.test('target_session_attrs: any, read-write and primary are accepted', async (t) => {
  t.equal(resolveConnectionConfig('postgres://u@h1,h2/db', {}).targetSessionAttrs, undefined, 'absent: libpq\'s default (any)');
  for (const value of ['any', 'read-write', 'primary'] as const) {
    t.equal(resolveConnectionConfig(`postgres://u@h1,h2/db?target_session_attrs=${value}`, {}).targetSessionAttrs, value, `URL ${value}`);
    t.equal(resolveConnectionConfig(undefined, { PGHOST: 'h1,h2', PGTARGETSESSIONATTRS: value }).targetSessionAttrs, value, `env ${value}`);
  }
  const urlWins = resolveConnectionConfig('postgres://u@h1,h2/db?target_session_attrs=primary', { PGTARGETSESSIONATTRS: 'standby' });
  t.equal(urlWins.targetSessionAttrs, 'primary', 'the URL parameter wins over PGTARGETSESSIONATTRS');
});

t.test('target_session_attrs asking for a standby is refused (64), saying why', async (t) => {
  for (const value of ['read-only', 'standby', 'prefer-standby']) {
    for (const [url, env] of [[`postgres://u@h1,h2/db?target_session_attrs=${value}`, {}], [undefined, { PGHOST: 'h1,h2', PGTARGETSESSIONATTRS: value }]] as const) {
      const error = errorOf(url, env);
      t.match(error, { name: 'UsageError', exitCode: 64 }, `${url ? 'URL' : 'env'} ${value}`);
      t.match(error.message, value, 'names the value');
      t.match(error.message, /standby/, 'says it asks for a standby');
      t.match(error.message, /primary/, 'says pglock locks only on a primary');
    }
  }
  t.match(errorOf('postgres://u@h/db?target_session_attrs=standby', { PGTARGETSESSIONATTRS: 'any' }), { name: 'UsageError' },
    'the URL parameter wins over the environment here too');
  for (const value of ['master', 'Primary', 'read_write', '']) {
    const error = errorOf(`postgres://u@h/db?target_session_attrs=${value}`);
    t.match(error, { name: 'UsageError', exitCode: 64, message: /target_session_attrs/ }, `'${value}' is not a libpq value (they are case-sensitive)`);
  }
});

t.test('malformed multi-host URLs: a usage error that never shows the password', async (t) => {
  const secret = 'hunter2secret';
  const urls = [
    `postgres://u:${secret}@h1:5432,[::1/db`,
    `postgres://u:${secret}@h1:5432,h2:abc/db`,
    `postgres://u:${secret}@h1:1:2,h2/db`,
    `postgres://u:${secret}@h1,]h2/db`,
    `postgres://u:${secret}@h1,[]:5432/db`, // libpq: "IPv6 host address may not be empty in URI"
    `postgres://u:${secret}@h%ZZ1,h2/db`,
    `postgres://u:${secret}@h1,h2:99999/db`,
    `postgres://u:${secret}@h1,h2,h3/db?port=1,2`,
    `postgres://u:${secret}@h1,h2/db?target_session_attrs=standby`,
    `postgres://u:${secret}@h1,h2/db?target_session_attrs=bogus`,
    `postgres://u:${secret}@h1,h2/db?sslmode=sometimes`,
    `postgres://u:${secret}@h1,h2/db?${secret}`,
    `postgres://u@h1,h2:x/db?password=${secret}`,
    // A password with an unescaped '/' ends the authority early (in libpq too): what is left of it
    // must not be echoed as a "port".
    `postgres://u:${secret.slice(0, 7)}/${secret.slice(7)}@h1,h2/db`,
    `postgres://u:${secret.slice(0, 7)}/${secret.slice(7)}@h1/db`,
  ];
  for (const url of urls) {
    const error = errorOf(url);
    t.match(error, { name: 'UsageError', exitCode: 64 }, url.replace(/:[^@]*@/, ':***@'));
    t.notMatch(error.message, secret, 'no password in the message');
    t.notMatch(error.message, secret.slice(0, 7), 'not even part of it');
  }
});

t.test('describeTarget lists every host, never the password; hostsOf falls back to host and port', async (t) => {
  const config = resolveConnectionConfig('postgres://alice:topsecret@h1:5432,h2:5433,[::1]:5434,%2Ftmp:5435/jobs', {});
  t.equal(describeTarget(config), 'alice@h1:5432,h2:5433,[::1]:5434,/tmp/.s.PGSQL.5435/jobs');
  t.equal(describeTarget(config, { host: 'h2', port: 5433 }), 'alice@h2:5433/jobs', 'or just the one given');
  t.notMatch(describeTarget(config), /topsecret/);
  const bare: ConnectionConfig = { host: 'h', port: 6000, database: 'd', user: 'u', ssl: false, ignoredParams: [] };
  t.same(hostsOf(bare), [{ host: 'h', port: 6000 }], 'a config built by hand without a host list');
  t.same(hostsOf({ ...bare, hosts: [] }), [{ host: 'h', port: 6000 }], 'an empty host list too');
  t.same(hostsOf({ ...bare, hosts: [{ host: 'a', port: 1 }, { host: 'b', port: 2 }] }), [{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
  t.equal(describeTarget({ ...bare, hosts: [{ host: 'a', port: 1 }, { host: '/s', port: 2 }] }), 'u@a:1,/s/.s.PGSQL.2/d');
});
