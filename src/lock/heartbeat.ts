import type { Session } from '../connection/index.js';
import { formatDuration } from '../duration.js';
import { HELD_SINCE_COMMENT, grantProof } from '../sql/lock-statements.js';
import { intLiteral } from '../sql/literals.js';

/** One lock a session's heartbeat proves: its id, mode and the backend that holds it. */
export interface ProvenLock {
  id: bigint;
  shared: boolean;
  backendPid: number;
}

export interface HeartbeatOptions {
  heartbeatMs: number;
  /** The backend the session's statements must reach (default: the session's own). */
  backendPid?: number;
  /** The locks to prove now (any backend: pg_locks is the server's whole table). */
  locks(): ProvenLock[];
  /** When the only lock on the session's own backend was granted, for `pglock status`. */
  heldSince(): Date | undefined;
  /** These locks are no longer shown held by their backend. */
  onMissing(locks: ProvenLock[]): void;
  /** Nothing can be proven any more: the connection closed, a check failed or did not answer. */
  onFailed(reason: string): void;
}

// One heartbeat for a whole lock session: every interval, one statement on the session's own
// connection asks pg_locks for every lock the session holds — on its own backend, or on a
// connection that waited for one — and checks that it still runs on its own backend. A check that
// does not answer within one heartbeat fails the session, as for a single lock (watch.ts).
export function startHeartbeat(session: Session, options: HeartbeatOptions): { stop(): void } {
  let stopped = false;
  let checking = false;
  const fail = (reason: string) => {
    if (stopped) return;
    stop();
    options.onFailed(reason);
  };
  void session.closed.then(() => fail('the database connection closed'));
  const timer = options.heartbeatMs > 0 ? setInterval(beat, options.heartbeatMs) : undefined;
  timer?.unref();

  function beat() {
    const locks = options.locks();
    if (checking || stopped || session.isClosed() || locks.length === 0) return;
    checking = true;
    const noAnswer = setTimeout(() => fail(`the database did not answer a lock check within ${formatDuration(options.heartbeatMs)}`), options.heartbeatMs);
    proveLocks(session, options.backendPid ?? session.backendPid, locks, options.heldSince()).then(
      (result) => {
        if (result === 'moved') return fail(`the lock is no longer held by this session (its statements no longer reach backend ${options.backendPid ?? session.backendPid})`);
        const missing = locks.filter((_, i) => !result[i]);
        if (missing.length > 0 && !stopped) options.onMissing(missing);
      },
      (error: unknown) => fail(`the lock check failed: ${(error as Error).message.split('\n')[0]}`),
    ).finally(() => {
      clearTimeout(noAnswer);
      checking = false;
    });
  }

  function stop() {
    stopped = true;
    if (timer) clearInterval(timer);
  }
  return { stop };
}

// Whether pg_locks shows each lock granted to its backend, asked from the session's own backend
// (else 'moved': a transaction pooler gave the statement to another backend).
async function proveLocks(session: Session, backendPid: number, locks: ProvenLock[], heldSince: Date | undefined): Promise<boolean[] | 'moved'> {
  const since = heldSince === undefined ? '' : `${HELD_SINCE_COMMENT}${heldSince.toISOString()} */`;
  const columns = locks.map((lock, i) => `${grantProof(intLiteral(lock.backendPid), lock.id, lock.shared)} as h${i}`);
  const [row] = await session.sql.unsafe<Record<string, boolean>[]>(`${since}
    select s.pid operator(pg_catalog.=) ${intLiteral(backendPid)} as same, ${columns.join(', ')}
    from (select pg_catalog.pg_backend_pid() as pid) s`);
  if (row?.same !== true) return 'moved';
  return locks.map((_, i) => row[`h${i}`] === true);
}
