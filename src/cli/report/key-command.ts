import { lockIdForKey, lockIdHalves, lockIdSql, slotIds } from '../../key/lock-id.js';
import { lockCall } from '../../sql/lock-statements.js';
import type { KeyOptions } from '../args/options.js';

// `pglock key <name>`: what pglock locks for a key, for people who lock the same thing from psql
// or another language. Printed on stdout, since that is what was asked for.
export function printKey(options: KeyOptions, write: (text: string) => void = (text) => void process.stdout.write(text)): number {
  const id = lockIdForKey(options.key);
  const { classid, objid } = lockIdHalves(id);
  const expression = lockIdSql(options.key);
  const slots = options.limit === undefined ? undefined : slotIds(id, options.limit);
  if (options.json) {
    write(`${JSON.stringify({
      key: options.key,
      lockId: String(id),
      classid: Number(classid),
      objid: Number(objid),
      objsubid: 1,
      sql: `select pg_advisory_lock(${expression});`,
      ...(slots ? { slots: slots.map(String) } : {}),
    })}\n`);
    return 0;
  }
  const lines = [
    `key       ${options.key}`,
    `lock id   ${id}`,
    `pg_locks  locktype 'advisory', classid ${classid}, objid ${objid}, objsubid 1`,
    '',
    '-- the same lock from SQL (session level; pg_advisory_xact_lock for transaction level):',
    `select pg_advisory_lock(${expression});`,
    `select ${lockCall('pg_advisory_lock', id)};  -- the same, by number`,
  ];
  if (slots) {
    lines.push('', `-- --limit ${options.limit}: slot i is the lock id + i; a holder holds any one of:`);
    for (const [i, slot] of slots.entries()) lines.push(`select ${lockCall('pg_try_advisory_lock', slot)};  -- slot ${i}`);
  }
  write(`${lines.join('\n')}\n`);
  return 0;
}
