// The Patroni + etcd + HAProxy stack that scripts/ha-test.sh starts, as the HA stage test sees it:
// the stack's description (PGLOCK_HA_STACK, a JSON file in the stack's private directory) and
// questions to the cluster (who leads, what HAProxy routes to, is it healthy).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface HaStack {
  dir: string;
  scope: string;
  ttl: number;
  loopWait: number;
  members: Record<string, { pg: number; rest: number }>;
  haproxy: number;
  haproxySlow: number;
  stats: number;
  appUser: string;
  appPassword: string;
  suPassword: string;
}

export function readStack(file: string): HaStack {
  return JSON.parse(readFileSync(file, 'utf8')) as HaStack;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Cluster {
  readonly names: string[];
  constructor(readonly stack: HaStack) {
    this.names = Object.keys(stack.members).sort();
  }

  member(m: string) {
    const member = this.stack.members[m];
    if (!member) throw new Error(`no member ${m}`);
    return member;
  }

  /** A multi-host URL listing these members, in this order (every member by default). */
  multiUrl(order = this.names): string {
    const hosts = order.map((m) => `127.0.0.1:${this.member(m).pg}`).join(',');
    return `postgres://${this.stack.appUser}:${this.stack.appPassword}@${hosts}/postgres`;
  }

  haproxyUrl(port: number): string {
    return `postgres://${this.stack.appUser}:${this.stack.appPassword}@127.0.0.1:${port}/postgres`;
  }

  async httpCode(port: number, path: string): Promise<number> {
    try {
      return (await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) })).status;
    } catch {
      return 0;
    }
  }

  /** The member whose REST /primary says 200 (the first, if several do). */
  async leader(): Promise<string | undefined> {
    for (const m of this.names) if ((await this.httpCode(this.member(m).rest, '/primary')) === 200) return m;
    return undefined;
  }

  /** The member that leads once another than `old` does (polled for up to 40 s). */
  async awaitNewLeader(old: string): Promise<string | undefined> {
    for (let i = 0; i < 200; i++) {
      const now = await this.leader();
      if (now && now !== old) return now;
      await sleep(200);
    }
    return undefined;
  }

  /** psql's one-line answer (or '' on any failure): as the superuser on a port, or on a URL. */
  async psql(target: number | string, sql: string): Promise<string> {
    const where = typeof target === 'number'
      ? ['-h', '127.0.0.1', '-p', String(target), '-U', 'postgres', '-d', 'postgres']
      : [target];
    const env = { ...process.env, PGCONNECT_TIMEOUT: '2', ...(typeof target === 'number' ? { PGPASSWORD: this.stack.suPassword } : {}) };
    try {
      return (await run('psql', ['-X', '-qAt', ...where, '-c', sql], { env, timeout: 10_000 })).stdout.trim();
    } catch {
      return '';
    }
  }

  /** The members an HAProxy listener routes to (marked UP), space-separated. */
  async haproxyUp(listener = 'primary'): Promise<string> {
    try {
      const csv = await (await fetch(`http://127.0.0.1:${this.stack.stats}/;csv`, { signal: AbortSignal.timeout(2000) })).text();
      return csv.split('\n').map((line) => line.split(','))
        .filter((f) => f[0] === listener && f[1] !== 'FRONTEND' && f[1] !== 'BACKEND' && /^UP/.test(f[17] ?? ''))
        .map((f) => f[1]).join(' ');
    } catch {
      return '';
    }
  }

  /** m1=leader/running m2=replica/streaming …, as Patroni's REST says (role/state). */
  async line(): Promise<string> {
    const parts: string[] = [];
    for (const m of this.names) {
      let j: { role?: string; state?: string } = {};
      try {
        j = await (await fetch(`http://127.0.0.1:${this.member(m).rest}/patroni`, { signal: AbortSignal.timeout(1000) })).json() as typeof j;
      } catch { /* no answer */ }
      parts.push(`${m}=${j.role ?? '-'}/${j.state ?? 'no answer'}`);
    }
    return parts.join(' ');
  }

  async routes(): Promise<string> {
    return `haproxy routes to: ${await this.haproxyUp()} / ${await this.haproxyUp('primary-slow')}`;
  }

  /** The postmaster's pid of a member, from its data directory. */
  postmasterPid(m: string): number | undefined {
    try {
      return Number(readFileSync(join(this.stack.dir, m, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
    } catch {
      return undefined;
    }
  }
}
