import { describeConnectError } from '../../connection/index.js';
import type { Session } from '../../connection/index.js';
import { DatabaseUnavailableError } from '../../errors.js';
import type { SqlClient } from '../../sql/holders.js';
import { RUNS_TABLE } from '../../runs/index.js';

// Read what a report needs on an open session, then close it. Any failure is 69, one line; a role
// that may not read the run record is told which grant it lacks.
export async function readRecords<T>(session: Session, target: string, read: (sql: SqlClient) => Promise<T>): Promise<T> {
  try {
    return await read(session.sql);
  } catch (error) {
    const denied = (error as { code?: unknown }).code === '42501';
    const why = denied ? `this role may not read ${RUNS_TABLE} (grant it select)` : describeConnectError(error);
    throw new DatabaseUnavailableError(`cannot read the run record at ${target}: ${why}`, { cause: error });
  } finally {
    await session.close().catch(() => undefined);
  }
}
