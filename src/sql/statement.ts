import type postgres from 'postgres';
import type { SqlClient } from './client.js';
import { intLiteral, textLiteral } from './literals.js';

// A statement with its values apart ($1, $2, ... in the text, each followed by a cast), sent one of
// two ways: written out, the values as literals (the simple query protocol: one round trip on any
// connection, parsed and planned each time), or prepared (the extended protocol: postgres.js
// describes it in one extra round trip the first time on a connection and then reuses it, parsed
// and planned once). A new connection sends it written out; a warm one (a lock session's) prepared,
// where it costs the server about half as much (bench: the warm-session section).

/** A value: an integer (bigint or number), text (written out hex-encoded), a boolean, or null. */
export type StatementValue = bigint | number | string | boolean | null;

export interface Statement {
  /** The SQL, with $n for the nth value; every $n carries its cast (`$1::pg_catalog.int8`). */
  text: string;
  values: readonly StatementValue[];
}

/** The statement with its values written in as literals. */
export function inline(statement: Statement): string {
  return statement.text.replace(/\$(\d+)/g, (_, n: string) => literal(statement.values[Number(n) - 1]));
}

/** Send the statement now (execute(): a statement sent after it runs after it), written out or prepared. */
export function send<T extends readonly object[] = Record<string, unknown>[]>(sql: SqlClient, statement: Statement, prepared = false): postgres.PendingQuery<T extends postgres.MaybeRow[] ? T : never> {
  const query = prepared
    // postgres.js serializes by the types the server described: a bigint as its text, a boolean as
    // itself (its bool serializer tests `=== true`), the rest as they are.
    ? sql.unsafe(statement.text, statement.values.map((value) => (typeof value === 'bigint' ? String(value) : value)) as postgres.ParameterOrJSON<never>[], { prepare: true })
    : sql.unsafe(inline(statement));
  return query.execute() as never;
}

function literal(value: StatementValue | undefined): string {
  if (value === undefined) throw new TypeError('a statement value is missing');
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  // A grant's mark (digits and a letter) as it is; any other text hex-encoded (literals.ts).
  if (typeof value === 'string') return /^-?[0-9]+[a-z]?$/.test(value) ? `'${value}'` : textLiteral(value);
  return intLiteral(value);
}
