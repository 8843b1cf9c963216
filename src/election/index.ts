// Leader election: contend with a waiting lock, lead while holding it, contend again on loss.
//   elect.ts  the loop    leader.ts  who leads now    backoff.ts  delays between tries
export { elect, type Election, type ElectOptions, type TermEnd } from './elect.js';
export type { Leader } from './leader.js';
