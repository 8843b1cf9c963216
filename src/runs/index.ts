// The run record (one row per run, the last --history runs of each lock id). The rest of pglock
// imports from here only:
//   table.ts   the table, created on first use, and the error when it cannot be
//   record.ts  writing a run's start (the --min-interval check, the pruning) and its end
//   migrate.ts the table of before the history, given its new primary key in place
//   read.ts    reading the records back, and telling a run in one phrase
//   fence.ts   the fence a job checks where it writes (pglock_fence), against the newest token
export { CREATE_RUNS_TABLE, MIGRATE_RUNS_TABLE, RUNS_TABLE, RUNS_TABLE_NAME, runsTableError } from './table.js';
export { CREATE_FENCE_FUNCTIONS, FENCE_FUNCTION, FENCE_ID_FUNCTION, FENCED_SQLSTATE } from './fence.js';
export { DEFAULT_HISTORY, type RunEnd, type RunStart, type RunStarted, endRunStatement, startRun } from './record.js';
export { type ListRunsFilter, type RunOutcome, type RunRecord, type StillRunning, describeOutcome, describeRun, listRuns } from './read.js';
