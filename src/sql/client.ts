import type postgres from 'postgres';

/** Anything pglock's statements can run on: a client, a reserved connection, a transaction. */
export type SqlClient = Pick<postgres.Sql, 'unsafe'>;
