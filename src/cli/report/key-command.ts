import { lockIdForKey, lockIdHalves, lockIdSql, slotIds } from '../../key/lock-id.js';
import { lockCall } from '../../sql/lock-statements.js';
import type { KeyOptions } from '../args/options.js';
import { displayKey } from '../../key/display-key.js';

const FORMS = ['pg_advisory_lock', 'pg_try_advisory_lock', 'pg_advisory_unlock'] as const;

// `pglock key <name>`: what pglock locks for a key, for people who lock the same thing from psql
// or another language. Printed on stdout, since that is what was asked for.
export function printKey(options: KeyOptions, write: (text: string) => void = (text) => void process.stdout.write(text)): number {
  const id = lockIdForKey(options.key);
  const { classid, objid } = lockIdHalves(id);
  const expression = lockIdSql(options.key);
  const slots = options.limit === undefined ? undefined : slotIds(id, options.limit);
  // The blocking form (as --wait), the fail-fast form (as pglock's default) and the unlock (issue 28).
  const [lock, tryLock, unlock] = FORMS.map((fn) => `select ${fn}(${expression});`);
  if (options.json) {
    write(`${JSON.stringify({
      key: options.key,
      lockId: String(id),
      classid: Number(classid),
      objid: Number(objid),
      objsubid: 1,
      sql: lock,
      trySql: tryLock,
      unlockSql: unlock,
      ...(slots ? { slots: slots.map(String) } : {}),
    })}\n`);
    return 0;
  }
  const lines = [
    `key       ${displayKey(options.key)}`,
    `lock id   ${id}`,
    `pg_locks  locktype 'advisory', classid ${classid}, objid ${objid}, objsubid 1`,
    '',
    '-- the same lock from SQL, session level (transaction level: pg_advisory_xact_lock, pg_try_advisory_xact_lock)',
    '-- wait for it (as --wait):',
    lock!,
    '-- or fail fast (as pglock does by default): true when taken, false when another session holds it:',
    tryLock!,
    '-- release it:',
    unlock!,
    '-- the same three by number:',
    ...FORMS.map((fn) => `select ${lockCall(fn, id)};`),
  ];
  if (slots) {
    lines.push('', `-- --limit ${options.limit}: slot i is the lock id + i; a holder holds any one of:`);
    for (const [i, slot] of slots.entries()) lines.push(`select ${lockCall('pg_try_advisory_lock', slot)};  -- slot ${i}`);
  }
  write(`${lines.join('\n')}\n`);
  return 0;
}
