#!/usr/bin/env bash
# The README's front door, tried where people really clone: a fresh clone of this checkout's HEAD
# commit in a private (0700) directory, `npm ci && npm run demo`, then the whole `npm test`. As root
# (the usual case in containers and CI runners, where the server must run as the unprivileged
# postgres user and any test that runs a command as another OS user must not lean on the private
# checkout: issue 28), and, when this script runs as root, also as a non-root user in that user's
# own private home directory. The whole suite runs once (as root: about 20 minutes here); the
# non-root user runs the files that touch users, paths and the front door, to keep CI's time in
# bounds. FRESH_CLONE_TEST='npx tap test/cli.test.ts' runs less as root; FRESH_CLONE_TEST_OTHER
# sets the non-root user's (FRESH_CLONE_TEST_OTHER='npm test' runs everything there too).
#   bash scripts/fresh-clone-test.sh
set -euo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse HEAD) # a linked worktree's clone would check out the main branch
tests=${FRESH_CLONE_TEST:-npm test}
other_tests=${FRESH_CLONE_TEST_OTHER:-npx tap test/cli.test.ts test/connecting.test.ts test/keys.test.ts test/commonjs.test.ts test/examples.test.ts}
work=$(mktemp -d /tmp/pglock-fresh-XXXXXX)
user=pglock-fresh
passed=0 failed=0
cleanup() {
  rm -rf "$work"
  if [ -n "${home:-}" ]; then rm -rf "$home/clone"; fi
}
trap cleanup EXIT

check() { # check <description> <command...>: run it, show its tail when it fails
  local what=$1 log="$work/step.log"; shift
  if "$@" >"$log" 2>&1; then
    echo "fresh-clone: ok: $what"; passed=$((passed + 1))
  else
    echo "fresh-clone: FAILED: $what"; failed=$((failed + 1))
    # tap's failures first (a whole suite's tail shows only its summary), then the tail.
    grep -E '^ *not ok ' "$log" | head -n 20 | sed 's/^/    /' || true
    tail -n 25 "$log" | sed 's/^/    /'
  fi
}

# try <dir> <as> <tests>: clone into <dir>/pglock, install, demo (which builds), the tests (each
# starts its own server).
try() {
  local dir=$1 as=$2 tests=$3 run=()
  [ "$as" = "$(id -un)" ] || run=(runuser -u "$as" --)
  check "clone into $dir (mode $(stat -c %a "$dir")), owned by $as" bash -c "git clone -q --no-checkout '$repo' '$dir/pglock' && git -C '$dir/pglock' checkout -q '$commit' && chown -R '$as:' '$dir/pglock'"
  check "$as: npm ci" "${run[@]}" bash -c "cd '$dir/pglock' && npm ci --no-audit --no-fund --prefer-offline"
  check "$as: npm run demo" "${run[@]}" bash -c "cd '$dir/pglock' && npm run demo | grep -q 'C exited 0'"
  check "$as: $tests" "${run[@]}" env -u PGLOCK_TEST_DATABASE_URL bash -c "cd '$dir/pglock' && $tests"
}

mkdir -m 0700 "$work/private"
try "$work/private" "$(id -un)" "$tests"

if [ "$(id -u)" = 0 ]; then
  id -u "$user" >/dev/null 2>&1 || useradd --create-home --home-dir "/home/$user" --shell /bin/bash "$user"
  home=$(getent passwd "$user" | cut -d: -f6)
  rm -rf "${home:?}/clone" && chmod 0700 "$home"
  runuser -u "$user" -- mkdir -m 0700 "$home/clone"
  try "$home/clone" "$user" "$other_tests"
fi

echo "fresh-clone: $passed passed, $failed failed"
[ "$failed" = 0 ]
