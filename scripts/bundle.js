// Bundle the CLI into one minified file and a V8 code cache for it, so that starting pglock costs
// little more than starting Node. Node reads one file instead of postgres.js's module graph, and
// the cache spares it the compiling. The library export stays the unbundled tsc output in dist/.
//
//   dist/pglock.cjs    the CLI, bundled (CommonJS, wrapped in a function expression, so that
//                      vm.Script can run it with a cache)
//   dist/pglock.cache  V8 code cache of every function in it (bin/pglock.cjs falls back to a plain
//                      compile when the running Node's V8 rejects it)
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { Script } from 'node:vm';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const outfile = new URL('../dist/pglock.cjs', import.meta.url);

// Built-ins that postgres.js imports at the top but calls later or rarely: tls only when the server
// accepts TLS (loading it costs about 4 ms), crypto only to authenticate (3-8 ms, loaded by the
// transport while the server handles the startup message). The stand-in loads the real module on
// first use. The stand-ins are CommonJS, as postgres.js's build that pglock bundles is (see below).
const LAZY_BUILTINS = {
  tls: {},
  crypto: {},
  // postgres.js reads performance.now() only when reconnecting; touching Node's global
  // performance object at load time would load perf_hooks.
  perf_hooks: { source: 'module.exports = { performance: { now: () => globalThis.performance.now() } };' },
};

const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      // pglock's own connection code (src/connection/) imports tls and crypto by default import
      // only: lazy too.
      const ours = args.importer.includes('/src/connection/');
      if (!(name in LAZY_BUILTINS) || !(args.importer.includes('node_modules') || ours)) return undefined;
      return { path: name, namespace: 'lazy-builtin' };
    });
    pluginBuild.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({ contents: lazyModule(args.path), loader: 'js' }));
  },
};

function lazyModule(name) {
  const spec = LAZY_BUILTINS[name];
  if (spec.source) return spec.source;
  return [
    `let loaded; const load = () => (loaded ??= require('node:${name}'));`,
    'module.exports = new Proxy({}, { get: (_, key) => load()[key] });',
  ].join('\n');
}

// postgres.js ships an ES module build and a CommonJS one. The ES one imports built-ins by default
// import (`import fs from 'fs'`), which a CommonJS bundle turns into a copy of every export of
// fs, crypto, net, os and stream at each start (getters for a few hundred properties); the
// CommonJS build require()s them as they are.
const postgresCommonJs = {
  name: 'postgres-commonjs',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^postgres$/ }, () => ({ path: createRequire(import.meta.url).resolve('postgres') }));
  },
};

await build({
  entryPoints: ['src/cli/bin.ts'],
  outfile: outfile.pathname,
  bundle: true,
  minify: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  legalComments: 'none',
  external: builtinModules.flatMap((name) => [name, `node:${name}`]),
  define: { PGLOCK_VERSION: JSON.stringify(version), 'import.meta.url': '__pglockUrl' },
  banner: { js: "const __pglockUrl=require('node:url').pathToFileURL(__filename).href;" },
  plugins: [postgresCommonJs, lazyBuiltins],
  logLevel: 'warning',
});

// The file holds the bundle already wrapped as a function expression, so bin/pglock.cjs compiles
// the file's text as it is (no 100 KB string concatenation at every start), and the cache made here
// matches it byte for byte.
// The first line names the V8 that made dist/pglock.cache: bin/pglock.cjs uses that cache only on
// the same V8, and on any other makes one of its own (see there).
const source = `/*v8 ${process.versions.v8}*/(function (exports, require, module, __filename, __dirname) {${readFileSync(outfile, 'utf8')}\n})`;
writeFileSync(outfile, source);

// Compile every function now (V8 compiles lazily by default, and a cache made right after the
// compile would only hold the top level), then restore the default so the cache's flag hash
// matches a normal Node process.
setFlagsFromString('--no-lazy');
const script = new Script(source, { filename: outfile.pathname });
setFlagsFromString('--lazy');
writeFileSync(new URL('../dist/pglock.cache', import.meta.url), script.createCachedData());
