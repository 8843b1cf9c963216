import { main } from './main.js';

// The entry esbuild bundles into dist/pglock.cjs, the one file bin/pglock.cjs loads.
void main();
