// The takeover delay's record: who holds a lock, with what bound, and whether it was cut off.
//   objects.ts  the table and the claim function (created on first use)
//   claim.ts    the claim after a grant, its outcome, the settle before a clean unlock
//   delayed.ts  the starts being delayed now, for pglock status
//   token.ts    a lock session's token: its armed rows' proof of life
export { type Claim, type ClaimRequest, CLAIM_SIGNATURE, claimCallStatement, claimInTransactionStatements, claimStatement, installRecord, isMissingRecord, parseClaim, RECORD_UNUSABLE, primeStatement, settleStatement } from './claim.js';
export { listDelayedStarts } from './delayed.js';
export { CREATE_CLAIM_FUNCTION, CREATE_HOLDERS_TABLE, HOLDERS_TABLE } from './objects.js';
export { TOKEN_CLASSID, newSessionToken } from './token.js';

/** A start delayed after a holder was cut off: what `onDelay` is told. */
export interface TakeoverDelay {
  /** The lock, as messages name it. */
  label: string;
  delayMs: number;
  /** When the start may go ahead, by the database's clock. */
  until: Date;
  /** The holder that was cut off: its host and pid (null if it did not say), and its bound. */
  cutOff: { host: string | null; pid: number | null; backendPid: number; grantedAt: Date; boundMs: number } | undefined;
  /** One line for a log: who was cut off, and how long the start waits. */
  message: string;
}
