#!/usr/bin/env bash
# pglock against a real HA stack, for .ci/run: Patroni + etcd + HAProxy from Debian's packages.
#
#   bash scripts/ha-test.sh
#
# This script only installs, starts and stops the stack (scripts/lib/ha-stack.sh): on 127.0.0.1
# only and in a private temp directory, one etcd, three Patroni members running PostgreSQL 15 and
# HAProxy with two primary ports health-checked on Patroni's REST `/primary`. The scenarios and
# their assertions (switchover, failover, a node-kill failover, paused leader; no two commands at
# once, exit codes, waiters that wait through the outage, the superseded holder's overlap) are the tap test test/stages/ha.stage.ts, run here with the stack
# described in PGLOCK_HA_STACK; its result is this script's.
#
# Missing packages (patroni etcd-server etcd-client haproxy postgresql-15) are installed with
# apt-get when root; when they cannot be had it prints `ha-test: skipped: <reason>` and exits 0.
# Everything it started is stopped on any exit, and the temp directory removed.
#
# Environment: HA_ASSERT_SUPERSEDED=0 (only report the paused leader's overlap);
# HA_SUPERSEDED_MAX_MS (its limit, default 2500); HA_KEEP=1 (keep the temp directory, for a look
# at the logs); HA_HAPROXY_CHECK (HAProxy's check timing, default `inter 1s fall 2 rise 1`;
# Patroni's own example, `inter 3s fall 3 rise 2`, routes to a demoted primary for longer);
# HA_PAUSED_HOLDER_OPTS (pglock options for the paused leader's holders, default `--primary-check 1s`).
set -euo pipefail

T0=$(date +%s)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PG_BIN=/usr/lib/postgresql/15/bin
PACKAGES=(patroni etcd-server etcd-client haproxy postgresql-15 curl)
SCOPE=pglock-ha
TTL=10 LOOP_WAIT=2 RETRY_TIMEOUT=4
HAPROXY_CHECK=${HA_HAPROXY_CHECK:-inter 1s fall 2 rise 1}

say() { printf 'ha-test: %s\n' "$*"; }
die() { say "error: $*" >&2; exit 1; }
skip() { say "skipped: $*"; exit 0; }
# shellcheck source=scripts/lib/ha-stack.sh
. scripts/lib/ha-stack.sh

# Cleanup: everything this run started lives in $W (its command line names $W: the pglock runs of
# the test too) or is in STACK_PIDS, TAP_PID or a $W/m*/patroni.pid.
W='' TAP_PID=''
STACK_PIDS=() # etcd, haproxy

pids_naming() { # pids of the processes whose command line names the directory $1
  local re
  re=$(printf '%s/' "$1" | sed 's/[].[^$*\\]/\\&/g')
  grep -alsG -- "$re" /proc/[0-9]*/cmdline 2>/dev/null | sed -E 's#^/proc/([0-9]+)/cmdline$#\1#' |
    grep -vx -e "$$" -e "$BASHPID" || true
}

cleanup() {
  local rc=$? pid i f pids alive
  trap - EXIT INT TERM HUP
  set +eu
  case "$rc" in 129 | 130 | 143) say "interrupted (exit $rc): stopping everything" ;; esac
  # The test (and its pglock runs) first, then Patroni (which stops its PostgreSQL), then etcd and HAProxy.
  [ -z "$TAP_PID" ] || { kill -TERM -- "-$TAP_PID" 2>/dev/null; sleep 1; kill -KILL -- "-$TAP_PID" 2>/dev/null; }
  if [ -n "$W" ]; then
    for pid in $(pids_naming "$W"); do grep -qa pglock.cjs "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null; done
    # Patroni stops its own PostgreSQL on SIGTERM (a stopped one is continued first).
    for f in "$W"/m*/patroni.pid; do
      [ -f "$f" ] || continue
      kill -CONT "$(cat "$f")" 2>/dev/null
      kill -TERM "$(cat "$f")" 2>/dev/null
    done
    for ((i = 0; i < 150; i++)); do
      alive=0
      for f in "$W"/m*/patroni.pid; do [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1; done
      [ "$alive" = 0 ] && break
      sleep 0.1
    done
    for pid in "${STACK_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    sleep 0.3
    # Then whatever is left: postgres, etcd, haproxy, pglock commands (all name $W).
    for i in 1 2 3; do
      pids=$(pids_naming "$W")
      [ -z "$pids" ] && break
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null
      sleep 0.3
    done
    if [ "${HA_KEEP:-0}" = 1 ]; then say "kept $W"; else rm -rf "$W"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

have_all() {
  command -v patroni >/dev/null && command -v patronictl >/dev/null && command -v etcd >/dev/null &&
    command -v etcdctl >/dev/null && command -v haproxy >/dev/null && [ -x "$PG_BIN/postgres" ] &&
    command -v psql >/dev/null && command -v curl >/dev/null && command -v setpriv >/dev/null &&
    /usr/bin/python3 -c 'import psycopg2' 2>/dev/null
}

install_packages() {
  have_all && return 0
  [ "$(uname -s)" = Linux ] || skip "not Linux"
  command -v apt-get >/dev/null || skip "no apt-get: cannot install ${PACKAGES[*]}"
  [ "$(id -u)" = 0 ] || skip "not root: cannot install ${PACKAGES[*]}"
  say "installing ${PACKAGES[*]}"
  # No daemon of theirs is to start (apt's own postgresql main cluster, etcd, haproxy): a
  # policy-rc.d that says no, for the length of the install, unless the machine has one already.
  local policy='' rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o DPkg::Lock::Timeout=300 "${PACKAGES[@]}" >"${TMPDIR:-/tmp}/pglock-ha-apt.log" 2>&1) || rc=$?
  [ -z "$policy" ] || rm -f "$policy"
  [ "$rc" = 0 ] || skip "apt-get could not install ${PACKAGES[*]} (exit $rc; see ${TMPDIR:-/tmp}/pglock-ha-apt.log)"
  have_all || skip "installed, but patroni, etcd, haproxy or $PG_BIN/postgres is still missing"
  # Should the default cluster have started anyway, it is stopped (we use ports of our own).
  if command -v pg_ctlcluster >/dev/null && pg_lsclusters -h 2>/dev/null | grep -qE '^15 +main .* online'; then
    pg_ctlcluster 15 main stop || true
  fi
}

install_packages
[ -f bin/pglock.cjs ] || die "bin/pglock.cjs is missing: run npm run build first"
id postgres >/dev/null 2>&1 || skip "no postgres user (postgresql-common makes it)"

W=$(mktemp -d "${TMPDIR:-/tmp}/pglock-ha.XXXXXX")
chmod 755 "$W"
mkdir -p "$W/logs" "$W/runs"
chown postgres: "$W/logs" 2>/dev/null || true
read -r -a PORTS <<<"$(node -e '
  const net = require("node:net"); const servers = [];
  (async () => {
    for (let i = 0; i < 11; i++) servers.push(await new Promise((ok) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => ok(s)); }));
    console.log(servers.map((s) => s.address().port).join(" ")); servers.forEach((s) => s.close());
  })();')"
ETCD_CLIENT=${PORTS[0]} ETCD_PEER=${PORTS[1]} HA_PORT=${PORTS[2]} HA_STATS_PORT=${PORTS[9]} HA_SLOW_PORT=${PORTS[10]}
declare -A PG_PORT=([m1]=${PORTS[3]} [m2]=${PORTS[4]} [m3]=${PORTS[5]})
declare -A REST_PORT=([m1]=${PORTS[6]} [m2]=${PORTS[7]} [m3]=${PORTS[8]})
MEMBERS=(m1 m2 m3)
SU_PW="su-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
REPL_PW="repl-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
APP_USER=pglock_app
APP_PW="app-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"

say "patroni $(patroni --version | awk '{print $2}'), etcd $(etcd --version | awk 'NR==1{print $3}'), $(haproxy -v | awk 'NR==1{print $1, $3}'), $("$PG_BIN/postgres" --version), node $(node --version)"
say "haproxy check: $HAPROXY_CHECK"
say "ports: etcd $ETCD_CLIENT, haproxy $HA_PORT (slow checks $HA_SLOW_PORT, stats $HA_STATS_PORT), postgres ${PG_PORT[m1]},${PG_PORT[m2]},${PG_PORT[m3]}, rest ${REST_PORT[m1]},${REST_PORT[m2]},${REST_PORT[m3]}"
t=$(date +%s)
start_etcd
for m in "${MEMBERS[@]}"; do write_member_config "$m"; done
start_patroni m1
primary() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:${REST_PORT[m1]}/primary" 2>/dev/null)" = 200 ]; }
for ((i = 0; i < 120; i++)); do primary && break; sleep 0.5; done
primary || { tail -n 30 "$W/logs/patroni-m1.log" >&2; die "m1 did not bootstrap in 60s"; }
start_patroni m2
start_patroni m3
start_haproxy
PGPASSWORD=$SU_PW PGCONNECT_TIMEOUT=2 psql -X -qAt -h 127.0.0.1 -p "${PG_PORT[m1]}" -U postgres -d postgres \
  -c "create role $APP_USER login password '$APP_PW'" >/dev/null 2>&1 || die "could not create the role $APP_USER"
# The takeover delay's holder record, created by the administrator as docs/safety.md says (the app
# role may not create in public on PostgreSQL 15+), so that the scenarios run with the delay on.
record_sql=$(node -e "import('./dist/index.js').then((p) => console.log(p.CREATE_HOLDERS_TABLE + ';\n' + p.CREATE_CLAIM_FUNCTION + ';'))")
PGPASSWORD=$SU_PW PGCONNECT_TIMEOUT=2 psql -X -qAt -h 127.0.0.1 -p "${PG_PORT[m1]}" -U postgres -d postgres -v ON_ERROR_STOP=1 \
  -c "$record_sql" -c "grant select, insert, update, delete on public.pglock_holders to $APP_USER" >/dev/null \
  || die "could not create the holder record for $APP_USER"
write_stack_json
say "stack started in $(($(date +%s) - t))s; the scenarios: test/stages/ha.stage.ts"

# In a session of its own (so that the cleanup can stop the test and all it ran), in the
# background and waited for, so that a signal to this script is handled at once.
rc=0
PGLOCK_HA_STACK=$W/stack.json setsid node_modules/.bin/tap --disable-coverage --reporter=tap --timeout 900 test/stages/ha.stage.ts &
TAP_PID=$!
wait "$TAP_PID" || rc=$?
TAP_PID=''
if [ "$rc" != 0 ]; then
  tail -n 20 "$W"/logs/patroni-m*.log >&2
  say "failed (tap exit $rc) after $(($(date +%s) - T0))s"
  exit 1
fi
say "ok in $(($(date +%s) - T0))s: switchover and failover without overlap, every waiter ran"
