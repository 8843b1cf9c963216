// A real PgBouncer in front of a test PostgreSQL, when the `pgbouncer` binary is installed
// (Debian: apt-get install pgbouncer, which puts it at /usr/sbin/pgbouncer). One bouncer per call,
// with its own config in a fresh temp dir, in the foreground as our child process.
//
// Auth: auth_type = scram-sha-256 with the password in plain text in the auth file. PgBouncer
// checks clients with SCRAM and, because it knows the plain password, logs in to a
// scram-sha-256 PostgreSQL itself. PgBouncer refuses to run as root, so under root it runs as the
// `postgres` system user, and the temp dir is handed to that user.
//
// With a target that speaks TLS (PGLOCK_TEST_TLS=1), PgBouncer does too, on both sides: clients
// must use TLS (client_tls_sslmode = require, the server's certificate), and so does PgBouncer
// towards PostgreSQL (server_tls_sslmode = require). The URL says sslmode=require.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type TestTls, canConnect, freePort } from './server.js';

export interface Bouncer {
  /** postgres:// URL that goes through PgBouncer to target.database. */
  url: string;
  port: number;
  /** Kill PgBouncer (SIGTERM, SIGKILL after 3 s) and remove its temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface BouncerTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The server speaks TLS: PgBouncer does too, with the same certificate. */
  tls?: TestTls | undefined;
}

export type PoolMode = 'session' | 'transaction' | 'statement';

/** Path to the pgbouncer binary (PATH, then the sbin dirs that are often not on PATH), or undefined. */
export function findPgbouncer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'pgbouncer');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `roundRobin`: server_round_robin = 1, so a client is handed the server connection idle longest, not its last one. */
export async function startPgbouncer(target: BouncerTarget, poolMode: PoolMode, options: { roundRobin?: boolean } = {}): Promise<Bouncer> {
  const binary = findPgbouncer();
  if (binary === undefined) throw new Error('pgbouncer is not installed (apt-get install pgbouncer)');
  const runAs = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
  let lastError: Error | undefined;
  // The free port may be taken between freePort() and PgBouncer's bind: try a few.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const dir = await mkdtemp(join(tmpdir(), 'pglock-pgbouncer-'));
    try {
      const port = await freePort();
      await writeConfig(dir, port, target, poolMode, runAs, options.roundRobin === true);
      const child = spawn(binary, [join(dir, 'pgbouncer.ini')], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      });
      const log = collectLog(child);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.on('error', () => {});
      const killOnExit = (): void => {
        try {
          child.kill('SIGKILL');
        } catch {
          // already gone
        }
        rmSync(dir, { recursive: true, force: true });
      };
      process.once('exit', killOnExit);
      const ready = await waitUntilListening(port, child, 10_000);
      if (!ready.ok) {
        process.off('exit', killOnExit);
        child.kill('SIGKILL');
        await exited;
        await rm(dir, { recursive: true, force: true });
        lastError = new Error(`pgbouncer did not start (${ready.reason}):\n${log()}`);
        if (/in use/i.test(log())) continue;
        throw lastError;
      }
      // Do not keep the test process alive by itself; stop() (or process exit) ends it.
      child.unref();
      (child.stdout as Socket | null)?.unref();
      (child.stderr as Socket | null)?.unref();
      let stopped: Promise<void> | undefined;
      const url = `postgres://${encodeURIComponent(target.user)}:${encodeURIComponent(target.password)}@127.0.0.1:${port}/${encodeURIComponent(target.database)}${target.tls ? '?sslmode=require' : ''}`;
      return {
        url,
        port,
        stop() {
          stopped ??= (async () => {
            if (child.exitCode === null && child.signalCode === null) {
              child.kill('SIGTERM');
              const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
              await exited;
              clearTimeout(timer);
            }
            process.off('exit', killOnExit);
            await rm(dir, { recursive: true, force: true });
          })();
          return stopped;
        },
      };
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }
  throw lastError ?? new Error('pgbouncer did not start');
}

async function writeConfig(dir: string, port: number, target: BouncerTarget, poolMode: PoolMode, runAs: { uid: number; gid: number } | undefined, roundRobin: boolean): Promise<void> {
  const ini = join(dir, 'pgbouncer.ini');
  const users = join(dir, 'userlist.txt');
  await writeFile(users, `${quote(target.user)} ${quote(target.password)}\n`, { mode: 0o600 });
  const files = [dir, ini, users];
  const tls: string[] = [];
  if (target.tls) {
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    await copyFile(target.tls.serverCert, cert);
    await copyFile(target.tls.serverKey, key);
    await chmod(key, 0o600);
    files.push(cert, key);
    tls.push('client_tls_sslmode = require', `client_tls_cert_file = ${cert}`, `client_tls_key_file = ${key}`, 'server_tls_sslmode = require');
  }
  await writeFile(ini, [
    '[databases]',
    `${dbKey(target.database)} = host=${connValue(target.host)} port=${target.port} dbname=${connValue(target.database)}`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${users}`,
    `pool_mode = ${poolMode}`,
    'max_client_conn = 500',
    'default_pool_size = 100',
    'min_pool_size = 0',
    'reserve_pool_size = 0',
    'server_login_retry = 1',
    'ignore_startup_parameters = extra_float_digits,options,statement_timeout',
    'logfile =',
    'pidfile =',
    'syslog = 0',
    'log_connections = 0',
    'log_disconnections = 0',
    'log_pooler_errors = 1',
    ...(roundRobin ? ['server_round_robin = 1'] : []),
    ...tls,
    '',
  ].join('\n'), { mode: 0o600 });
  if (runAs) {
    for (const path of files) await chown(path, runAs.uid, runAs.gid);
    await chmod(dir, 0o700);
  }
}

/** "user" "password" lines: double quotes inside are doubled. */
function quote(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

/** A [databases] key: bare when plain, else SQL-identifier quoted. */
function dbKey(name: string): string {
  return /^[A-Za-z0-9_]+$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** A libpq-style connection string value. */
function connValue(value: string): string {
  return /^[A-Za-z0-9_.\-]+$/.test(value) ? value : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function systemUser(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((entry) => entry.split(':')[0] === name);
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new Error(`pgbouncer refuses to run as root, and there is no '${name}' system user to run it as`);
  }
  return { uid: Number(uid), gid: Number(gid) };
}

function collectLog(child: ChildProcess): () => string {
  let text = '';
  const add = (chunk: Buffer): void => {
    text = (text + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => text.trim();
}

async function waitUntilListening(port: number, child: ChildProcess, timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      return { ok: false, reason: `exited with ${child.exitCode ?? child.signalCode}` };
    }
    if (await canConnect(port)) return { ok: true };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { ok: false, reason: `not listening on 127.0.0.1:${port} after ${timeoutMs} ms` };
}

