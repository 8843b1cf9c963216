import t from 'tap';
import { exitCodeForChild } from '../../src/cli/run/child-exit.js';
import { ExitCode } from '../../src/exit-codes.js';
import { DatabaseUnavailableError, LockBusyError, LockLostError, LockTimeoutError, PglockError, UsageError } from '../../src/errors.js';

t.test('the contract values', async (t) => {
  t.same(ExitCode, {
    Conflict: 75, Usage: 64, Unavailable: 69, LockLost: 70, Internal: 71, TimedOut: 124, CheckStale: 1, CheckFailed: 2, CheckOverrunning: 3,
    CheckNeverRan: 4, ReleaseRefused: 65, NoPermission: 77, CannotExecute: 126, NotFound: 127,
  });
});

t.test('child outcome → pglock exit code', async (t) => {
  const cases: [Parameters<typeof exitCodeForChild>[0], number][] = [
    [{ kind: 'exited', code: 0 }, 0],
    [{ kind: 'exited', code: 3 }, 3],
    [{ kind: 'exited', code: 255 }, 255],
    [{ kind: 'signaled', signal: 'SIGTERM' }, 143],
    [{ kind: 'signaled', signal: 'SIGKILL' }, 137],
    [{ kind: 'signaled', signal: 'SIGINT' }, 130],
    [{ kind: 'spawn-failed', errno: 'ENOENT', message: '' }, 127],
    [{ kind: 'spawn-failed', errno: 'EACCES', message: '' }, 126],
  ];
  for (const [exit, code] of cases) t.equal(exitCodeForChild(exit), code, JSON.stringify(exit));
});

t.test('errors carry their exit code, a string code and the cause', async (t) => {
  const cause = new Error('root');
  const table: [PglockError, number, string][] = [
    [new UsageError('u'), 64, 'EUSAGE'],
    [new LockBusyError('b'), 75, 'ELOCKED'],
    [new LockTimeoutError('t', { cause }), 75, 'ELOCKTIMEOUT'],
    [new DatabaseUnavailableError('d'), 69, 'EUNAVAILABLE'],
    [new LockLostError('l'), 70, 'ELOCKLOST'],
  ];
  for (const [error, exitCode, code] of table) {
    t.equal(error.exitCode, exitCode, error.name);
    t.equal(error.code, code, error.name);
    t.ok(error instanceof PglockError);
  }
  t.equal(table[2]?.[0].cause, cause);
  t.ok(new LockTimeoutError('t') instanceof LockBusyError, 'a timeout is a kind of busy');
});
