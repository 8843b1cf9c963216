#!/usr/bin/env node
'use strict';
// Runs the bundled CLI, dist/pglock.cjs, with the V8 code cache made at build time (see
// scripts/bundle.js). CommonJS, because Node 20 can only use a code cache through vm.Script, and a
// CommonJS entry also starts faster than an ES module one.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');

const filename = join(__dirname, '..', 'dist', 'pglock.cjs');
let cachedData;
try {
  cachedData = readFileSync(join(__dirname, '..', 'dist', 'pglock.cache'));
} catch {
  // No cache: V8 compiles the source as usual.
}
// The file is one function expression (see scripts/bundle.js); the cache is valid for its exact text.
const source = readFileSync(filename, 'utf8');
const bundle = { exports: {} };
new Script(source, { filename, cachedData }).runInThisContext()(bundle.exports, require, bundle, filename, __dirname);
