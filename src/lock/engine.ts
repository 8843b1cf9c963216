import type { SqlClient } from '../sql/client.js';

// Servers that speak PostgreSQL's protocol but whose advisory locks are not PostgreSQL's: pglock
// proves every grant from pg_locks and refuses (69) where it cannot, and names the engine from
// version() so that the refusal says why. CockroachDB's advisory-lock functions are stubs that
// always succeed and lock nothing; YugabyteDB's are off unless a preview flag is set (and its
// pg_locks differs); Redshift, Materialize, RisingWave and CrateDB have none.

/** An engine that is not PostgreSQL, what pglock can say about its advisory locks, or undefined for PostgreSQL. */
export interface Engine {
  name: string;
  /** The version as the server gave it. */
  version: string;
  /** Why its advisory locks cannot be trusted, one clause. */
  why: string;
}

const ENGINES: { name: string; match: RegExp; why: string }[] = [
  { name: 'CockroachDB', match: /^CockroachDB\b/i, why: 'its advisory-lock functions are stubs that always succeed and lock nothing' },
  { name: 'YugabyteDB', match: /-YB-/, why: 'its advisory locks are off unless a preview flag is set, and differ from PostgreSQL\'s' },
  { name: 'Amazon Redshift', match: /\bRedshift\b/, why: 'it has no advisory locks' },
  { name: 'Materialize', match: /\bMaterialize\b/, why: 'it has no advisory locks' },
  { name: 'RisingWave', match: /\bRisingWave\b/i, why: 'it has no advisory locks' },
  { name: 'CrateDB', match: /\bCrateDB\b/i, why: 'it has no advisory locks' },
];

/** Which engine a version() string names: undefined for PostgreSQL (and engines that keep its locks). */
export function classifyEngine(version: string): Engine | undefined {
  const known = ENGINES.find((engine) => engine.match.test(version));
  if (known) return { name: known.name, version: version.split(/[,(]/)[0]!.trim(), why: known.why };
  if (/^PostgreSQL \d/.test(version)) return undefined;
  return { name: version.split(/\s/)[0] || 'an unknown server', version: version.split(/[,(]/)[0]!.trim(), why: 'it is not PostgreSQL, and its advisory locks are not PostgreSQL\'s' };
}

/** Ask the server which engine it is: best effort (undefined when it says PostgreSQL or cannot say). */
export async function askEngine(sql: SqlClient): Promise<Engine | undefined> {
  try {
    const [row] = await sql.unsafe<{ version: string }[]>('select pg_catalog.version() as version');
    return row === undefined ? undefined : classifyEngine(row.version);
  } catch {
    return undefined;
  }
}
