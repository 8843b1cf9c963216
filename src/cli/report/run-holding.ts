import { type AdvisoryLockRow, slotOf } from '../../sql/holders.js';
import type { RunRecord, StillRunning } from '../../runs/index.js';

// Does the run's pglock (host and pid, from its application_name) hold a lock of the key now?
// PostgreSQL keeps at most 63 bytes of application_name: the host there may be cut short.
// Null: cannot tell (the holders' details are hidden from this role).
export function findHolding(run: RunRecord, locks: AdvisoryLockRow[]): boolean | null {
  if (run.outcome !== 'running') return false;
  const ofKey = locks.filter((row) => row.granted && /^-?\d+$/.test(row.lockId) && (slotOf(BigInt(row.lockId), run.lockId) ?? -1) >= 0);
  const mine = ofKey.some((row) => row.pglock !== null && row.pglock.pid === run.pid && run.host !== null && run.host.startsWith(row.pglock.host));
  if (mine) return true;
  return ofKey.some((row) => row.detailsHidden) ? null : false;
}

/** The phrase describeOutcome takes for an unfinished run. */
export function toStillRunning(holding: boolean | null): StillRunning {
  return holding === null ? 'unknown' : holding ? 'yes' : 'no';
}
