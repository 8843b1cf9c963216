#!/usr/bin/env node
'use strict';
// Runs the bundled CLI, dist/pglock.cjs, with a V8 code cache (see scripts/bundle.js). CommonJS,
// because Node 20 can only use a code cache through vm.Script, and a CommonJS entry also starts
// faster than an ES module one.
//
// A code cache is valid only for the V8 that made it. dist/pglock.cache was made at build time,
// eagerly (every function); the bundle's first line names that V8, and that Node uses it. Any
// other Node (22 and 24 when the package was built on 20) uses a cache of its own in the user's
// cache directory ($XDG_CACHE_HOME or ~/.cache, then pglock/), keyed by the V8 version and by the
// bundle's size and modification time (V8 itself checks only the source's length). That one is
// made when pglock exits, from the functions the run compiled: a run-path cache, 40% smaller than
// an eager one and quicker to load (issue 13). Its last byte says whether the run that made it ran
// a command; a cache made by a shorter run (--version, a busy lock) is remade once a command has
// run, so it holds the whole run path. A directory that cannot be written is no error: that Node
// compiles without a cache, as it would anyway.
const { readFileSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');

const dist = join(__dirname, '..', 'dist');
const filename = join(dist, 'pglock.cjs');
const source = readFileSync(filename, 'utf8');
const builtHere = source.startsWith(`/*v8 ${process.versions.v8}*/`);
const cacheFile = builtHere ? undefined : userCacheFile();
const saved = readQuietly(builtHere ? join(dist, 'pglock.cache') : cacheFile);
// A user cache: the V8 data, then one byte, 1 when a run that ran a command made it.
const cachedData = saved && !builtHere ? saved.subarray(0, -1) : saved;
const script = new Script(source, { filename, cachedData });
const bundle = { exports: {} };
if (cacheFile) {
  const madeByCommand = saved !== undefined && saved[saved.length - 1] === 1;
  process.once('exit', () => {
    const commandStarted = bundle.exports.runState?.commandStarted === true;
    if (cachedData === undefined || script.cachedDataRejected || (commandStarted && !madeByCommand)) saveCache(cacheFile, commandStarted);
  });
}
script.runInThisContext()(bundle.exports, require, bundle, filename, __dirname);

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
    const { dirname } = require('node:path');
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
