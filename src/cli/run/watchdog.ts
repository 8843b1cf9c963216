import type { CommandSpec } from '../args/options.js';

// The child never outlives pglock, and it is spawned before the lock is granted, so that the
// handoff costs a pipe write instead of a fork of Node. The command is started through this
// /bin/sh launcher, which gets two pipes from pglock: fd 3, the lifeline, and fd 4, the go-ahead.
//  1. At once it forks a watchdog subshell that keeps fd 3 and closes fd 4.
//  2. It waits for a line on fd 4: "run [fencing token]" (the lock is held; the token, digits
//     only, becomes PGLOCK_FENCING_TOKEN) or EOF (pglock gave up, was refused the lock or died):
//     then it exits without running anything.
//  3. It execs the real command (same pid, so signals and the exit status are the command's), by
//     the path pglock already looked up, so no PATH search sits between the grant and the start.
//  4. When the launcher or command has finished, pglock writes a line on fd 3 and the watchdog
//     exits quietly. If pglock dies without writing it (SIGKILL, crash), the pipe hits EOF: the
//     watchdog sends SIGTERM to the command's process group (or to the command alone in a
//     terminal), then SIGKILL once the command is gone or --kill-after has passed. While the
//     watchdog lives it is a member of that group, so the group id cannot be reused by the time it
//     sends SIGKILL. It ignores the signals pglock forwards, since it shares the command's group.
// The server releases the lock when pglock's socket closes, so the command must stop too.
const LAUNCHER = [
  'target=$1; ticks=$2; shift 2',
  '(',
  '  trap "" INT TERM HUP QUIT USR1 USR2',
  '  exec </dev/null >/dev/null 2>&1 4<&-',
  '  if read -r _ <&3; then exit 0; fi',
  '  kill -TERM $target || exit 0',
  '  n=0; while kill -0 $$ && [ $n -lt $ticks ]; do sleep 0.1; n=$((n+1)); done',
  '  kill -KILL $target',
  ') &',
  'exec 3<&-',
  'read -r go token <&4 || exit 0',
  '[ "$go" = run ] || exit 0',
  'exec 4<&-',
  '[ -z "$token" ] || export PGLOCK_FENCING_TOKEN="$token"',
  'exec "$@"',
].join('\n');

/** The /bin/sh argv that runs `command` under the watchdog once it is told to. */
export function withWatchdog(command: CommandSpec, options: { groupKill: boolean; killAfterMs: number }): CommandSpec {
  const target = options.groupKill ? '-$$' : '$$';
  const ticks = String(Math.max(1, Math.ceil(options.killAfterMs / 100)));
  return {
    file: '/bin/sh',
    args: ['-c', LAUNCHER.replace('target=$1', () => `target=${target}`), 'pglock', '', ticks, command.file, ...command.args],
    shell: command.shell,
  };
}

/** The line that tells the launcher the lock is held: exec the command (with this fencing token). */
export function launcherRunLine(fencingToken?: bigint): string {
  return fencingToken === undefined ? 'run\n' : `run ${fencingToken}\n`;
}
/** The line that tells the watchdog pglock is alive and the command finished normally. */
export const WATCHDOG_DONE = 'done\n';
