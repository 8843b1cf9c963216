# Cleanup and process helpers for scripts/docker-test.sh (sourced): everything a run started lives
# in $WORK or has its pid recorded in DOCKERD_PID, CHILD_PID or TAP_PID.
WORK=''
DOCKERD_PID=''
SOCK=''
CHILD_PID=''
TAP_PID='' # the tap test (test/stages/docker.stage.ts), with its throwaway PostgreSQL
SKIPPED=0

kill_and_wait() { # pid seconds: TERM, wait up to `seconds`, then KILL
  local pid=$1 secs=$2 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
}

wait_gone() { # pid seconds: wait up to `seconds` for the process to end
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
}

# Pids of the processes whose command line names $1 (a directory unique to one run).
# (The pattern is a regular expression with its dots escaped, so that grep does not find itself.)
pids_naming() {
  local re
  re=$(printf '%s/' "$1" | sed 's/[].[^$*\\]/\\&/g')
  grep -alsG -- "$re" /proc/[0-9]*/cmdline 2>/dev/null | sed -E 's#^/proc/([0-9]+)/cmdline$#\1#' | grep -vx -e "$$" -e "$BASHPID" || true
}

unmount_under() { # lazily unmount whatever is mounted on or below $1 (deepest first)
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

remove_dir() {
  [ -n "$1" ] && [ -d "$1" ] || return 0
  unmount_under "$1"
  rm -rf "$1" 2>/dev/null || { sleep 1; rm -rf "$1"; }
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +eu
  # A signal may arrive inside a redirected command (`run … >log`): back to the script's own output.
  exec 1>&"$STDOUT_FD" 2>&"$STDERR_FD"
  local engine_log=''
  case "$rc" in
    0) ;;
    129 | 130 | 143) say "interrupted (exit $rc): stopping everything" ;;
    *) [ "$SKIPPED" = 1 ] || [ ! -s "$WORK/dockerd.log" ] || engine_log=$(tail -n 15 "$WORK/dockerd.log") ;;
  esac
  [ -z "$DOCKERD_PID" ] || T_CLEAN=$(date +%s)
  [ -n "$CHILD_PID" ] && kill_and_wait "$CHILD_PID" 5
  # The test (on an interrupt) stops its PostgreSQL and deletes its data on SIGTERM; meanwhile,
  # the engine stops.
  [ -z "$TAP_PID" ] || kill -TERM -- "-$TAP_PID" 2>/dev/null
  if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    local ids
    ids=$(timeout 20 docker -H "unix://$SOCK" ps -aq 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$ids" ] && timeout 60 docker -H "unix://$SOCK" rm -f $ids >/dev/null 2>&1
    kill_and_wait "$DOCKERD_PID" 30
  fi
  if [ -n "$WORK" ]; then
    # The engine's containerd and shims, should any have outlived it (their command lines name $WORK).
    local pid
    for pid in $(pids_naming "$WORK"); do kill_and_wait "$pid" 5; done
    if [ -n "$engine_log" ]; then
      say "the engine's last log lines:" >&2
      printf '  dockerd: %s\n' "${engine_log//$'\n'/$'\n  dockerd: '}" >&2
    fi
    remove_dir "$WORK"
  fi
  if [ -n "$TAP_PID" ]; then
    wait_gone "$TAP_PID" 15
    kill -KILL -- "-$TAP_PID" 2>/dev/null
  fi
  [ -z "${T_CLEAN:-}" ] || say "cleaned up in $(elapsed "$T_CLEAN")"
  exit "$rc"
}
# Runs a command in the background and waits for it, so that a signal to this script is handled at
# once (the trap stops the command) instead of after the command ends.
run() {
  "$@" &
  CHILD_PID=$!
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=''
  return "$rc"
}

# Directories of earlier runs that were killed before they could clean up: removed when neither
# their script nor their engine is alive. A live leftover engine is left alone (it is not ours to
# stop): it uses its own directory and socket, so it does not get in the way.
remove_stale_runs() {
  local d owner engine
  for d in "$TMP_PARENT"/pglock-docker-test.*; do
    [ -d "$d" ] || continue
    owner=$(cat "$d/owner.pid" 2>/dev/null || true)
    engine=$(cat "$d/docker.pid" 2>/dev/null || true)
    if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then continue; fi
    if [ -n "$engine" ] && kill -0 "$engine" 2>/dev/null; then
      say "note: an engine left by a killed run is still running (pid $engine, $d); not touching it (stop it with: kill $engine)"
      continue
    fi
    if [ -n "$(pids_naming "$d")" ]; then continue; fi
    remove_dir "$d"
  done
}
