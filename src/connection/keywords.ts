// The vocabulary of libpq connection parameters: which keywords exist, which pglock uses, and which
// environment variables stand for which keyword.

/** libpq connection parameters by keyword (host, port, dbname, user, sslmode, ...), as written. */
export type Params = Map<string, string>;

/** The keywords pglock uses; every other libpq keyword is accepted and ignored (listed with -v). */
export const USED_KEYWORDS: ReadonlySet<string> = new Set([
  'host', 'port', 'dbname', 'user', 'password', 'passfile', 'service', 'target_session_attrs',
  'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword', 'sslnegotiation',
]);

/** Every keyword libpq knows (PostgreSQL 18): a service file may hold only these. */
export const LIBPQ_KEYWORDS: ReadonlySet<string> = new Set([
  ...USED_KEYWORDS, 'hostaddr', 'connect_timeout', 'client_encoding', 'options', 'application_name',
  'fallback_application_name', 'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count',
  'tcp_user_timeout', 'sslcompression', 'sslcertmode', 'sslcrl', 'sslcrldir', 'sslsni',
  'sslkeylogfile', 'requirepeer', 'require_auth', 'ssl_min_protocol_version', 'ssl_max_protocol_version',
  'gssencmode', 'krbsrvname', 'gsslib', 'gssdelegation', 'channel_binding', 'replication',
  'load_balance_hosts', 'min_protocol_version', 'max_protocol_version', 'servicefile', 'scram_client_key',
  'scram_server_key', 'oauth_issuer', 'oauth_client_id', 'oauth_client_secret', 'oauth_scope',
]);

/** The libpq environment variables pglock reads, and the keyword each one stands for. */
export const ENV_KEYWORDS: ReadonlyArray<readonly [string, string]> = [
  ['PGHOST', 'host'], ['PGPORT', 'port'], ['PGDATABASE', 'dbname'], ['PGUSER', 'user'],
  ['PGPASSWORD', 'password'], ['PGPASSFILE', 'passfile'], ['PGSERVICE', 'service'],
  ['PGTARGETSESSIONATTRS', 'target_session_attrs'], ['PGSSLMODE', 'sslmode'],
  ['PGSSLROOTCERT', 'sslrootcert'], ['PGSSLCERT', 'sslcert'], ['PGSSLKEY', 'sslkey'],
  ['PGSSLNEGOTIATION', 'sslnegotiation'],
];
