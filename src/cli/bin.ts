import { main } from './main.js';

// The entry esbuild bundles into dist/pglock.cjs, the one file bin/pglock.cjs loads. It reads
// runState when the process exits.
export { runState } from './run/run-state.js';

void main();
