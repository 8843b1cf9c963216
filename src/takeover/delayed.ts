import type { SqlClient } from '../sql/client.js';
import { HOLDERS_TABLE } from './objects.js';

/**
 * The starts being delayed now (a holder that holds the lock and waits out a cut-off holder's
 * bound), by `<lock id>:<backend pid>`, with the ISO time they may go ahead: for `pglock status`.
 * Best effort: no record, or a role that may not read it, shows none.
 */
export async function listDelayedStarts(sql: SqlClient): Promise<Map<string, string>> {
  try {
    const rows = await sql.unsafe<{ lock_id: string; backend_pid: number; until: string }[]>(
      `select h.lock_id::pg_catalog.text as lock_id, h.backend_pid, pg_catalog.to_char(pg_catalog.timezone('UTC', h.not_before), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as until
       from ${HOLDERS_TABLE} h where h.not_before operator(pg_catalog.>) pg_catalog.now()`);
    return new Map(rows.map((row) => [`${row.lock_id}:${row.backend_pid}`, row.until]));
  } catch {
    return new Map();
  }
}
