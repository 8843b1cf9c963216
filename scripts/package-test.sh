#!/usr/bin/env bash
# The package as users get it, on Node 20, 22 and 24. Given a built repo (npm run build), this
# script packs, installs and fetches; the checks are the tap test test/stages/package.stage.ts:
#   1. npm pack (the test checks the tarball holds what users need and nothing else);
#   2. npm install -g the tarball into a fresh prefix (the test runs that pglock from an unrelated
#      directory against a throwaway PostgreSQL of its own, test/helpers/server.ts);
#   3. the small strict TypeScript project test/fixtures/consumer/, depending on the tarball (the
#      test type-checks it against the shipped .d.ts, checks a deliberate type error is rejected,
#      builds and runs withLock/acquireLock);
#   4. on this machine's Node and on Node 22 and 24 (the node-linux-<arch> packages of the npm
#      registry, cached in ${XDG_CACHE_HOME:-~/.cache}/pglock-ci, scripts/lib/fetch-node.sh): the
#      test runs the installed CLI, the consumer, and the end-to-end tap tests running the
#      installed bin (PGLOCK_TEST_BIN).
# A Node that cannot be fetched is skipped with its reason; every other problem is a failure.
#   npm run build && scripts/package-test.sh
# PACKAGE_TEST_NODES="22 24" picks the extra Node majors ("" = only this machine's node).
set -euo pipefail
shopt -s globstar nullglob

cd "$(dirname "$0")/.."
REPO=$PWD
EXTRA_NODES=${PACKAGE_TEST_NODES-22 24}
NODE_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/pglock-ci
# The tap run on every Node: the end-to-end CLI files (they spawn PGLOCK_BIN, here the installed
# bin/pglock.cjs), the library tests (they import ../src: the repo's source on that Node; the
# consumer is what checks the installed library) and the code-cache test (it checks the
# installed dist/pglock.cache). Not the whole suite: it takes about 6 minutes per Node on a 2-CPU
# machine, and npm test (.ci/run) already runs all of it on this machine's Node.
# PACKAGE_TEST_FILES="test/cli.test.ts ..." runs those instead, PACKAGE_TEST_FILES=all everything.
E2E_FILES=(test/cli.test.ts test/operator.test.ts test/status.test.ts test/faults.test.ts test/library.test.ts
  test/contention.test.ts test/chaos.test.ts test/unit/bundle.test.ts)
case ${PACKAGE_TEST_FILES:-} in
  '') SUITE=("${E2E_FILES[@]}") ;;
  all) SUITE=(test/**/*.test.ts) ;;
  *) read -r -a SUITE <<<"$PACKAGE_TEST_FILES" ;;
esac

# No database settings from the caller's environment: every check names its server.
for name in $(compgen -e); do
  case $name in
    PGLOCK_TEST_*) ;;
    PG* | DATABASE_URL) unset "$name" ;;
  esac
done

# The layout test/stages/package.stage.ts reads (PGLOCK_PACKAGE_WORK).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pglock-package-test.XXXXXX")
PREFIX=$WORK/prefix CONSUMER=$WORK/consumer
mkdir -p "$WORK/logs" "$WORK/elsewhere"
TAP_PID=''
cleanup() {
  local status=$?
  # The test (on an interrupt) and all it started: it runs in a session of its own, and the tap
  # suite it runs on each Node in a process group of its own (suite.pgid).
  if [ -n "$TAP_PID" ]; then
    local group
    for group in "$TAP_PID" "$(cat "$WORK/suite.pgid" 2>/dev/null)"; do [ -z "$group" ] || kill -TERM -- "-$group" 2>/dev/null; done
    sleep 2
    for group in "$TAP_PID" "$(cat "$WORK/suite.pgid" 2>/dev/null)"; do [ -z "$group" ] || kill -KILL -- "-$group" 2>/dev/null; done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf 'package-test: %s\n' "$*"; }
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
T0=$(now_ms)
# step <description> <command...>: its output goes to a log, shown (and the run ends) when it fails.
step() {
  local what=$1 log=$WORK/logs/step-$RANDOM.log t
  shift
  t=$(now_ms)
  if ! "$@" >"$log" 2>&1; then
    tail -n 40 "$log" | sed 's/^/    | /'
    say "failed: $what"
    exit 1
  fi
  say "$what: done in $((($(now_ms) - t) / 1000))s"
}
# shellcheck source=scripts/lib/fetch-node.sh
. scripts/lib/fetch-node.sh

[ -f dist/index.js ] && [ -f dist/pglock.cjs ] || { say "dist/ is not built: run npm run build first"; exit 1; }
step "npm pack" npm pack --pack-destination "$WORK" --silent
step "npm install -g --prefix <tmp> <tarball>" npm install -g --prefix "$PREFIX" "$WORK"/pglock-*.tgz --no-audit --no-fund
cp -r test/fixtures/consumer "$CONSUMER"
(cd "$CONSUMER" && step "npm install <tarball> @types/node in the consumer" \
  npm install "$WORK"/pglock-*.tgz "@types/node@$(node -p "require('$REPO/node_modules/@types/node/package.json').version")" --no-audit --no-fund)

command -v node >"$WORK/nodes.txt"
machine_major=$(node -p 'process.versions.node.split(".")[0]')
for major in $EXTRA_NODES; do
  [ "$major" != "$machine_major" ] || continue
  if node_bin=$(fetch_node "$major"); then
    # A hard link (or a copy) of the cached binary: the run keeps its node whatever happens to the
    # cache meanwhile (another job may clear it).
    mkdir -p "$WORK/node-$major/bin"
    ln -f "$node_bin" "$WORK/node-$major/bin/node" 2>/dev/null || cp "$node_bin" "$WORK/node-$major/bin/node"
    say "Node $major: $node_bin ($("$node_bin" --version))"
    echo "$WORK/node-$major/bin/node" >>"$WORK/nodes.txt"
  else
    say "skipped Node $major: $node_bin"
  fi
done
printf '%s\n' "${SUITE[@]}" >"$WORK/suite.txt"

# In a session of its own (so that the cleanup can stop the test and all it ran), in the
# background and waited for, so that a signal to this script is handled at once.
rc=0
PGLOCK_PACKAGE_WORK=$WORK setsid node_modules/.bin/tap --disable-coverage --reporter=tap --timeout 3600 test/stages/package.stage.ts &
TAP_PID=$!
wait "$TAP_PID" || rc=$?
TAP_PID=''
say "$([ "$rc" = 0 ] && echo ok || echo "FAILED (tap exit $rc)") in $((($(now_ms) - T0) / 1000))s"
exit "$rc"
