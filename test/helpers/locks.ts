// pg_locks queries for assertions, by lock id.
import type postgres from 'postgres';
import { lockIdHalves } from '../../src/key/lock-id.js';

export async function lockRows(admin: postgres.Sql, id: bigint): Promise<{ pid: number; granted: boolean }[]> {
  const { classid, objid } = lockIdHalves(id);
  return admin<{ pid: number; granted: boolean }[]>`
    select pid, granted from pg_locks
    where locktype = 'advisory' and classid = ${classid}::oid and objid = ${objid}::oid and objsubid = 1`;
}

export async function isGranted(admin: postgres.Sql, id: bigint): Promise<boolean> {
  return (await lockRows(admin, id)).some((row) => row.granted);
}
