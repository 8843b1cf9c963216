#!/usr/bin/env node
'use strict';
// Runs the bundled CLI, dist/pglock.cjs, with a V8 code cache (see scripts/bundle.js). CommonJS,
// because Node 20 can only use a code cache through vm.Script, and a CommonJS entry also starts
// faster than an ES module one.
//
// A code cache is valid only for the V8 that made it. dist/pglock.cache was made at build time;
// the bundle's first line names that V8. Any other Node (22 and 24 when the package was built on
// 20) uses a cache of its own in the user's cache directory ($XDG_CACHE_HOME or ~/.cache, then
// pglock/), made on its first run, when pglock exits, keyed by the V8 version and by the bundle's
// size and modification time (V8 itself checks only the source's length). A directory that
// cannot be written is no error: that Node compiles without a cache, as it would anyway.
const { readFileSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');

const dist = join(__dirname, '..', 'dist');
const filename = join(dist, 'pglock.cjs');
const source = readFileSync(filename, 'utf8');
const builtHere = source.startsWith(`/*v8 ${process.versions.v8}*/`);
const cacheFile = builtHere ? join(dist, 'pglock.cache') : userCacheFile();
let cachedData;
try {
  if (cacheFile) cachedData = readFileSync(cacheFile);
} catch {
  // No cache yet: V8 compiles the source as usual.
}
const script = new Script(source, { filename, cachedData });
if (!builtHere && cacheFile && (cachedData === undefined || script.cachedDataRejected)) {
  process.once('exit', () => saveCache(cacheFile));
}
const bundle = { exports: {} };
script.runInThisContext()(bundle.exports, require, bundle, filename, __dirname);

function userCacheFile() {
  const base = process.env.XDG_CACHE_HOME || (process.env.HOME ? join(process.env.HOME, '.cache') : undefined);
  if (!base) return undefined;
  try {
    const { size, mtimeMs } = statSync(filename);
    return join(base, 'pglock', `pglock-v8-${process.versions.v8}-${process.arch}-${size}-${Math.trunc(mtimeMs)}.cache`);
  } catch {
    return undefined;
  }
}

// Compile every function (as the build does), write the cache next to its final name, then rename
// it into place: concurrent first runs each write a whole file, and readers never see half of one.
function saveCache(file) {
  try {
    const { mkdirSync, renameSync, writeFileSync } = require('node:fs');
    const { dirname } = require('node:path');
    const { setFlagsFromString } = require('node:v8');
    // The cache records V8's flags when it is made: back to the default before making it.
    setFlagsFromString('--no-lazy');
    let full;
    try {
      // Another name than the running script's, so V8 compiles afresh (eagerly) instead of reusing it.
      full = new Script(source, { filename: `${filename}#cache` });
    } finally {
      setFlagsFromString('--lazy');
    }
    const data = full.createCachedData();
    // Two levels at most (~/.cache, then pglock), without { recursive }: on some file systems
    // (procfs) a recursive mkdir keeps retrying instead of failing.
    const dir = dirname(file);
    const make = (path) => {
      try {
        mkdirSync(path, { mode: 0o700 });
      } catch (error) {
        if (error.code !== 'EEXIST') throw error;
      }
    };
    try {
      make(dir);
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
      make(dirname(dir));
      make(dir);
    }
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, data, { mode: 0o600 });
    renameSync(temporary, file);
  } catch {
    // A read-only or missing cache directory: run without a cache next time too.
  }
}
