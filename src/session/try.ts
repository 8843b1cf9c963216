import type { Session } from '../connection/index.js';
import type { Entry } from './entry.js';
import type { ArmedRows } from './armed.js';
import { type Claim, claimCallStatement, settleStatement } from '../takeover/index.js';
import { type ClaimOutcome, type ClaimTarget, claimRequestOf, sendClaim } from '../lock/index.js';
import { type LockResult, type LockStatement, releaseLock, takeLock } from '../sql/lock-statements.js';
import type { SessionRequest } from './request.js';

/**
 * A lock session's fail-fast try on its own connection, and the holder's claim: in the try statement
 * itself once the claim function is known to be there (`claimInTry.known`, set by the first claim
 * that ran), else as a statement of its own right behind the try, in the same round trip.
 * `prepared`: the session's statements are prepared (not through a pooler). `provenPids`: the
 * session's backend once a grant on it was proven (takeLock).
 */
export async function tryWithClaim(
  main: Session, request: SessionRequest, target: ClaimTarget, prepared: boolean, claimInTry: { known: boolean }, provenPids: readonly number[],
): Promise<{ tried: LockResult; claimed: Promise<ClaimOutcome> }> {
  const lock: LockStatement = { id: request.id, shared: request.shared, wait: false, prepared, provenPids };
  if (claimInTry.known && prepared) {
    const claim = claimCallStatement(claimRequestOf(target));
    try {
      const tried = await takeLock(main.sql, {
        id: request.id, shared: request.shared, wait: false, prepared, provenPids, follow: { sql: claim.call, values: claim.values },
        // Its pid is checked against the session's backend (lock-session.ts): the proof is not run again.
        backendProven: provenPids.includes(main.backendPid),
      });
      return { tried, claimed: Promise.resolve({ rows: [{ claim: tried.follow }] }) };
    } catch {
      // The claim failed (pglock's objects dropped?): the grant may stand without it; give it back,
      // and take the lock the other way.
      claimInTry.known = false;
      await releaseLock(main.sql, request.id, request.shared).catch(() => undefined);
    }
  }
  const trying = takeLock(main.sql, lock);
  const claimed = sendClaim(main, target, 'mark', 'function', prepared);
  const tried = await trying;
  if (tried.granted && 'rows' in (await claimed)) claimInTry.known = true;
  return { tried, claimed };
}

/**
 * A lock held on the session's own connection, and its unlock: with its holder row armed (`claim`
 * said so, on this connection: `armed`), the unlock alone, and the row marked released later
 * (armed.ts); otherwise the unlock marks it released in the same statement. `taken`: whether the
 * session holds or is taking the lock again.
 */
export function heldOnMain(
  main: Session, request: SessionRequest, claim: Claim | undefined, armed: ArmedRows | undefined, prepared: boolean, taken: () => boolean,
): NonNullable<Entry['held']> {
  if (claim !== undefined && !claim.current) armed?.upgrade();
  const rows = claim?.armed === true ? armed : undefined;
  rows?.arm(request.id);
  const settle = claim === undefined || rows !== undefined ? undefined : settleStatement(request.id);
  return {
    backendPid: main.backendPid, sql: () => main.sql,
    unlock: async () => {
      const released = await releaseLock(main.sql, request.id, request.shared, settle, false, prepared);
      rows?.released(request.id, taken);
      return released;
    },
  };
}
