#!/usr/bin/env node
'use strict';
// Runs the bundled CLI, dist/pglock.cjs, with a V8 code cache (see scripts/bundle.js). CommonJS,
// because Node 20 can only use a code cache through vm.Script, and a CommonJS entry also starts
// faster than an ES module one.
//
// A code cache is valid only for the V8 that made it. Each Node uses one of its own in the user's
// cache directory ($XDG_CACHE_HOME or ~/.cache, then pglock/), keyed by the V8 version and by the
// bundle's size and modification time (V8 itself checks only the source's length). It is made
// when pglock exits, from the functions the run compiled: a run-path cache, less than half the
// size of one holding every function, and quicker to load (issue 13). Its last byte says whether
// the run that made it ran a command; a cache made by a shorter run (--version, a busy lock) is
// remade once a command has run, so that it holds the whole run path.
// Until it exists, the Node that built the package uses dist/pglock.cache (every function,
// compiled at build time; the bundle's first line names that V8), but only where no user cache
// can be written (a read-only or missing home): elsewhere its first run compiles as it goes, to
// make the run-path cache. A directory that cannot be written is no error.
const { accessSync, constants, readFileSync, statSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const dist = join(__dirname, '..', 'dist');
const filename = join(dist, 'pglock.cjs');
const source = readFileSync(filename, 'utf8');
const cacheFile = userCacheFile();
// A user cache: the V8 data, then the marker byte (1: made by a run of a command).
const saved = readQuietly(cacheFile);
const fromUser = saved !== undefined && saved.length > 1;
// Where none can be written, no run tries (making one costs a serialization at exit).
const writable = fromUser || canWrite(cacheFile);
let cachedData = fromUser ? saved.subarray(0, -1) : undefined;
if (!writable && source.startsWith(`/*v8 ${process.versions.v8}*/`)) cachedData = readQuietly(join(dist, 'pglock.cache'));
const script = new Script(source, { filename, cachedData });
const bundle = { exports: {} };
// Made at exit when there is no usable user cache, or once a command has run when it was made
// by a shorter run.
const missing = !fromUser || script.cachedDataRejected;
if (writable && (missing || saved[saved.length - 1] !== 1)) {
  process.once('exit', () => {
    const commandStarted = bundle.exports.runState?.commandStarted === true;
    if (missing || commandStarted) saveCache(cacheFile, commandStarted);
  });
}
script.runInThisContext()(bundle.exports, require, bundle, filename, __dirname);

// Whether the cache file could be made: its directory, or the nearest of the two levels above it
// that exists, is writable.
function canWrite(file) {
  if (!file) return false;
  for (let dir = dirname(file), level = 0; level < 3; dir = dirname(dir), level++) {
    try {
      accessSync(dir, constants.W_OK);
      return true;
    } catch (error) {
      if (error.code !== 'ENOENT') return false;
    }
  }
  return false;
}

function readQuietly(file) {
  try {
    return file ? readFileSync(file) : undefined;
  } catch {
    return undefined; // no cache yet: V8 compiles the source as usual
  }
}

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

// The functions compiled so far (those from the cache it started with included), written next to
// the final name and renamed into place: concurrent runs each write a whole file, and readers never
// see half of one.
function saveCache(file, commandStarted) {
  try {
    const { mkdirSync, renameSync, writeFileSync } = require('node:fs');
    const data = Buffer.concat([script.createCachedData(), Buffer.of(commandStarted ? 1 : 0)]);
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
