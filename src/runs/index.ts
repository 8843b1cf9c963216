// The run record (one row per lock id: the fencing token and the last run). The rest of pglock
// imports from here only:
//   table.ts   the table, created on first use, and the error when it cannot be
//   record.ts  writing a run's start (and the --min-interval check) and its end
//   read.ts    reading the records back, and telling a run in one phrase
export { CREATE_RUNS_TABLE, RUNS_TABLE, RUNS_TABLE_NAME, runsTableError } from './table.js';
export { type RunEnd, type RunStart, type RunStarted, endRunStatement, startRun } from './record.js';
export { type ListRunsFilter, type RunOutcome, type RunRecord, type StillRunning, describeOutcome, describeRun, listRuns } from './read.js';
