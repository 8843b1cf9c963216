// The shipped CLI is the bundle bin/pglock.cjs runs with a V8 code cache: check that this Node runs
// it from a cache it accepts (a rejected cache still works, only slower, so nothing else would
// notice), and that the bundle loads no more built-ins than it needs. The copy checked is
// the one the end-to-end tests run: the repo's, or PGLOCK_TEST_BIN's (an installed package).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import t from 'tap';
import { PGLOCK_BIN } from '../helpers/run-pglock.js';
import { startTestServer, uniqueKey } from '../helpers/server.js';

const dist = (name: string) => join(dirname(PGLOCK_BIN), '..', 'dist', name);

// Every Node makes a code cache of its own on its first run, in $XDG_CACHE_HOME/pglock (else
// ~/.cache/pglock), and uses it from then on (its last byte is a marker, not V8's).
// dist/pglock.cache is made at build time, for the V8 of the Node that built it (the bundle's first
// line names that V8), which uses it where no cache of its own can be written.
const source = readFileSync(dist('pglock.cjs'), 'utf8');
const builtHere = source.startsWith(`/*v8 ${process.versions.v8}*/`);
// scripts/package-test.sh reads this line to know which Node tap's test processes ran on.
t.comment(`running on Node ${process.version} (V8 ${process.versions.v8}); dist/pglock.cache made by ${source.slice(2, source.indexOf('*/'))}`);

t.test('this Node runs the CLI from a code cache it accepts: one it made on its first run (or the build\'s)', async (t) => {
  const cacheHome = mkdtempSync(join(tmpdir(), 'pglock-cache-home-'));
  const run = (env: Record<string, string>) => spawnSync(process.execPath, [PGLOCK_BIN, '--version'], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '', ...env } });
  t.equal(run({ XDG_CACHE_HOME: cacheHome }).status, 0, 'first run');
  const made = cachesIn(cacheHome);
  t.equal(made.length, 1, `this Node made its own cache (${made.join(', ')})`);
  t.match(made[0], new RegExp(`^pglock-v8-${process.versions.v8.replace(/\./g, '\\.')}-${process.arch}-\\d+-\\d+\\.cache$`));
  const accepts = (cachedData: Buffer) => !new Script(source, { filename: dist('pglock.cjs'), cachedData }).cachedDataRejected;
  t.ok(accepts(readFileSync(join(cacheHome, 'pglock', made[0]!)).subarray(0, -1)), 'V8 accepts it');
  if (builtHere) t.ok(accepts(readFileSync(dist('pglock.cache'))), 'this Node built the package: V8 accepts the build\'s cache too');
  for (const unwritable of ['/proc/pglock-cannot-write-here', '/dev/null/not-a-directory']) {
    const readOnly = run({ XDG_CACHE_HOME: unwritable });
    t.same([readOnly.status, readOnly.stderr], [0, ''], `a cache directory that cannot be written is no error (${unwritable})`);
  }
  t.equal(run({ XDG_CACHE_HOME: '', HOME: '' }).status, 0, 'nor is having no cache directory at all');
});

// A user cache holds the functions the run that made it compiled, so it is made from a run that
// went the whole way. Checked with a copy of bin/ and dist/pglock.cjs and a cache directory of
// this test's own.
t.test('a per-Node cache made by a short run (--version) is remade once by a run of a command, then kept', async (t) => {
  const server = await startTestServer(t);
  const root = mkdtempSync(join(tmpdir(), 'pglock-foreign-build-'));
  mkdirSync(join(root, 'bin'));
  mkdirSync(join(root, 'dist'));
  copyFileSync(PGLOCK_BIN, join(root, 'bin', 'pglock.cjs'));
  writeFileSync(join(root, 'dist', 'pglock.cjs'), source);
  const cacheHome = mkdtempSync(join(tmpdir(), 'pglock-cache-home-'));
  const run = (args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 'pglock.cjs'), ...args], {
    encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '', XDG_CACHE_HOME: cacheHome },
  });
  const read = () => {
    const [name] = cachesIn(cacheHome);
    const file = join(cacheHome, 'pglock', name ?? 'missing');
    return { names: cachesIn(cacheHome), data: readFileSync(file), inode: statSync(file).ino };
  };
  t.equal(run(['--version']).status, 0);
  const short = read();
  t.equal(short.names.length, 1, 'the first run made a cache');
  t.equal(short.data.at(-1), 0, 'marked as made by a run that ran no command');
  const ran = run(['-d', server.url, '-k', uniqueKey('cache'), '--', 'true']);
  t.same([ran.status, ran.stderr], [0, ''], 'a run of a command');
  const full = read();
  t.equal(full.names.length, 1, 'still one cache file');
  t.equal(full.data.at(-1), 1, 'remade, marked as made by a run of a command');
  t.ok(full.data.length > short.data.length, `it holds the run path too (${short.data.length} → ${full.data.length} bytes)`);
  t.equal(new Script(readFileSync(join(root, 'dist', 'pglock.cjs'), 'utf8'), { filename: join(root, 'dist', 'pglock.cjs'), cachedData: full.data.subarray(0, -1) }).cachedDataRejected, false,
    'V8 accepts it');
  t.equal(run(['-d', server.url, '-k', uniqueKey('cache'), '--', 'true']).status, 0);
  t.equal(run(['--version']).status, 0);
  t.equal(read().inode, full.inode, 'later runs keep it');
});

function cachesIn(cacheHome: string): string[] {
  const dir = join(cacheHome, 'pglock');
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.cache')) : [];
}

t.test('tls and perf_hooks are not loaded by a run that does not need them', async (t) => {
  const probe = [
    "process.argv = [process.argv[0], 'pglock', '--version'];",
    'process.exit = () => {',
    '  const loaded = process.moduleLoadList;',
    "  console.error('LOADED ' + JSON.stringify(loaded));",
    '  process.reallyExit(0);',
    '};',
    `require(${JSON.stringify(PGLOCK_BIN)});`,
  ].join('\n');
  // A clean environment: tap's hooks (NODE_OPTIONS, coverage) preload modules of their own.
  const { stderr } = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  const line = stderr.split('\n').find((l) => l.startsWith('LOADED ')) ?? 'LOADED []';
  const loaded = (JSON.parse(line.slice('LOADED '.length)) as string[]).map((m) => m.replace('NativeModule ', ''));
  t.ok(loaded.includes('vm'), 'the probe ran the bundle (through bin/pglock.cjs, which loads vm)');
  t.notOk(loaded.includes('tls'), 'tls is loaded only when a server accepts TLS');
  t.notOk(loaded.includes('perf_hooks'), 'perf_hooks is not loaded');
});

t.test('crypto is not loaded before connecting; with a password, it is loaded after the startup message', async (t) => {
  // Our own server: plain TCP, so the socket's writes are the protocol's messages.
  const server = await startTestServer(t, { own: true });
  const dir = mkdtempSync(join(tmpdir(), 'pglock-crypto-probe-'));
  const preload = join(dir, 'probe.cjs');
  // Records, in order, pglock's socket connecting, its writes, and pglock's own require of crypto
  // (tap's hooks in every child Node load crypto for themselves, so the built-in list cannot tell).
  writeFileSync(preload, String.raw`
    const Module = require('node:module');
    const net = require('node:net');
    const events = [];
    const load = Module.prototype.require;
    Module.prototype.require = function (id) {
      if (/^(node:)?crypto$/.test(id) && !events.includes('crypto')) events.push('crypto');
      return load.call(this, id);
    };
    const connect = net.Socket.prototype.connect;
    net.Socket.prototype.connect = function (...args) {
      events.push('connect');
      const socket = connect.apply(this, args);
      // After connect(): it resets the instance's write.
      const write = this.write;
      this.write = function (...data) { events.push('write'); return write.apply(this, data); };
      return socket;
    };
    process.on('exit', () => console.error('EVENTS ' + events.join(' ')));
  `);
  const { status, stderr } = spawnSync(process.execPath, ['-r', preload, PGLOCK_BIN, '-d', server.url, '-k', uniqueKey('crypto'), '--', 'true'],
    { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '' } });
  t.equal(status, 0, stderr);
  const events = (stderr.split('\n').find((l) => l.startsWith('EVENTS ')) ?? 'EVENTS').split(' ').slice(1);
  // The socket's writes: the SSLRequest (sslmode prefer), then the startup message.
  t.same(events.slice(0, 4), ['connect', 'write', 'write', 'crypto'], `crypto is required only after the startup message (${events.join(' ')})`);
});
