#!/usr/bin/env bash
# The package as users get it, on Node 20, 22 and 24. Given a built repo (npm run build):
#   1. npm pack, and check the tarball holds what users need and nothing else;
#   2. npm install -g the tarball into a fresh prefix and run that pglock from an unrelated directory
#      against a throwaway PostgreSQL (scripts/test-server.js);
#   3. a small strict TypeScript project depending on the tarball: it type-checks against the
#      shipped .d.ts (and a deliberate type error is rejected), builds and runs withLock/acquireLock;
#   4. on this machine's Node and on Node 22 and 24 (the node-linux-<arch> packages of the npm
#      registry, cached in ${XDG_CACHE_HOME:-~/.cache}/pglock-ci): the installed CLI, the consumer,
#      and the end-to-end tap tests running the installed bin (PGLOCK_TEST_BIN).
# A Node that cannot be fetched is skipped with its reason; every other problem is a failure.
#   npm run build && scripts/package-test.sh
# PACKAGE_TEST_NODES="22 24" picks the extra Node majors ("" = only this machine's node).
set -euo pipefail
shopt -s globstar nullglob extglob

cd "$(dirname "$0")/.."
REPO=$PWD
VERSION=$(node -p 'require("./package.json").version')
EXTRA_NODES=${PACKAGE_TEST_NODES-22 24}
NODE_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/pglock-ci
# The tap run on every Node: the end-to-end CLI files (they spawn PGLOCK_BIN, here the installed
# bin/pglock.cjs), the library tests (they import ../src: the repo's source on that Node; the
# consumer below is what checks the installed library) and the code-cache test (it checks the
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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pglock-package-test.XXXXXX")
PREFIX=$WORK/prefix
CONSUMER=$WORK/consumer
ELSEWHERE=$WORK/elsewhere
INSTALLED_BIN=$PREFIX/lib/node_modules/pglock/bin/pglock.cjs
mkdir -p "$WORK/logs" "$ELSEWHERE"

PASSED=0
FAILED=0
SERVER_PID=
URL=
TIMINGS=()
STAGE=
STAGE_START=

cleanup() {
  local status=$?
  stop_server
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf 'package-test: %s\n' "$*"; }

now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }

stage() {
  end_stage
  STAGE=$1
  STAGE_START=$(now_ms)
  printf '\n== %s\n' "$STAGE"
}

end_stage() {
  [ -n "$STAGE" ] || return 0
  local ms=$(($(now_ms) - STAGE_START))
  local line
  line=$(printf '%-60s %6d.%ds' "$STAGE" $((ms / 1000)) $((ms % 1000 / 100)))
  TIMINGS+=("$line")
  say "stage done in $((ms / 1000)).$((ms % 1000 / 100))s: $STAGE"
  STAGE=
}

pass() { PASSED=$((PASSED + 1)); printf '  ok      %s\n' "$1"; }
fail() {
  FAILED=$((FAILED + 1))
  printf '  FAILED  %s\n' "$1"
  if [ -n "${2:-}" ] && [ -s "$2" ]; then tail -n 40 "$2" | sed 's/^/    | /'; fi
}

# check <description> <command...>: the command's output goes to a log, shown when it fails.
check() {
  local what=$1 log
  shift
  log=$WORK/logs/$((PASSED + FAILED + 1)).log
  if "$@" >"$log" 2>&1; then pass "$what"; else fail "$what" "$log"; fi
}

# prints <expected stdout> <command...>: the command succeeds and prints exactly that.
prints() {
  local expected=$1 out
  shift
  out=$("$@")
  if [ "$out" != "$expected" ]; then
    printf 'expected stdout: %q\n     got stdout: %q\n' "$expected" "$out"
    return 1
  fi
}

# fails_with <exit code> <command...>
fails_with() {
  local expected=$1 code=0
  shift
  "$@" || code=$?
  if [ "$code" != "$expected" ]; then
    echo "expected exit $expected, got $code"
    return 1
  fi
}

die() {
  fail "$1" "${2:-}"
  end_stage
  summary
  exit 1
}

summary() {
  printf '\n== timings\n'
  printf '  %s\n' "${TIMINGS[@]}"
  echo "package-test: $PASSED passed, $FAILED failed"
}

start_server() {
  # A coprocess: its stdin is a pipe from this shell, so it also stops if this shell dies. In a
  # session of its own, so that no signal a test sends to its process group can reach it.
  coproc PGSERVER { exec setsid node "$REPO/scripts/test-server.js" 2>>"$WORK/logs/test-server.log"; }
  SERVER_PID=$PGSERVER_PID
  local line=
  IFS= read -r -t 120 line <&"${PGSERVER[0]}" || true
  URL=$(node -e 'try { process.stdout.write(JSON.parse(process.argv[1]).url) } catch {}' "$line")
  [ -n "$URL" ] || die "the test server (node scripts/test-server.js) did not start" "$WORK/logs/test-server.log"
  export CONSUMER_DATABASE_URL=$URL
  say "test server: ${URL/:*([^:\/])@/:***@}"
}

# The server must live through the whole run: if it died, say so (a failure) and start another.
ensure_server() {
  if kill -0 "$SERVER_PID" 2>/dev/null && node -e '
    const { hostname, port } = new URL(process.argv[1]);
    require("node:net").connect(Number(port), hostname).on("connect", () => process.exit(0)).on("error", () => process.exit(1));
  ' "$URL"; then
    return 0
  fi
  fail "the test server is still up before: $1" "$WORK/logs/test-server.log"
  stop_server
  start_server
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local i
  for i in {1..300}; do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# The tarball may hold exactly these: the bin, the library (tsc's .js and .d.ts, but not dist/cli/:
# the CLI's modules are in the bundle), the bundle and its code cache, the docs, the man page, package.json.
ALLOWED='^(package\.json|README\.md|CHANGELOG\.md|LICENSE|man/pglock\.1|docs/[a-z-]+\.md|bin/pglock\.cjs|dist/pglock\.cjs|dist/pglock\.cache|dist/([a-z0-9-]+/)*[a-z0-9-]+\.(js|d\.ts))$'
REQUIRED=(package.json README.md CHANGELOG.md LICENSE man/pglock.1 docs/connecting.md bin/pglock.cjs dist/index.js dist/index.d.ts dist/pglock.cjs dist/pglock.cache)

check_tarball_files() {
  local files=$1 bad=0 file
  while IFS= read -r file; do
    if ! [[ $file =~ $ALLOWED ]] || [[ $file == dist/cli/* ]]; then
      echo "not allowed in the package: $file"
      bad=1
    elif [[ $file =~ ^dist/(.+)\.(js|d\.ts)$ ]] && [ ! -f "$REPO/src/${BASH_REMATCH[1]}.ts" ]; then
      # tsc does not delete the output of a source file that was moved or removed.
      echo "stale build output, no src/${BASH_REMATCH[1]}.ts (rm -rf dist && npm run build): $file"
      bad=1
    fi
  done <"$files"
  for file in "${REQUIRED[@]}"; do
    grep -qxF "$file" "$files" || { echo "missing from the package: $file"; bad=1; }
  done
  return "$bad"
}

# Node <major> from the npm registry's node-linux-<arch> package (its bin/node), cached across runs.
# Prints the node binary's path; on failure prints the reason and returns 1.
fetch_node() {
  local major=$1 dir=$NODE_CACHE/node-$1
  if [ -x "$dir/bin/node" ] && [ "$("$dir/bin/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$major" ]; then
    echo "$dir/bin/node"
    return 0
  fi
  # Twice: a registry hiccup is not a reason to skip a Node version.
  local out
  if out=$(fetch_node_once "$major"); then echo "$out"; return 0; fi
  sleep 2
  fetch_node_once "$major"
}

fetch_node_once() {
  local major=$1 dir=$NODE_CACHE/node-$1 arch tmp tarball
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) arch=x64 ;;
    Linux/aarch64) arch=arm64 ;;
    *) echo "no node-linux package for $(uname -s)/$(uname -m)"; return 1 ;;
  esac
  tmp=$(mktemp -d "$WORK/fetch-node-$major.XXXXXX")
  if ! tarball=$(cd "$tmp" && npm pack "node-linux-$arch@$major" --loglevel=error 2>"$tmp/npm.log"); then
    echo "npm pack node-linux-$arch@$major failed: $(grep -v "^npm error A complete log" "$tmp/npm.log" | head -n 3 | tr '\n' ' ')"
    rm -rf "$tmp"
    return 1
  fi
  if ! tar -xzf "$tmp/$tarball" -C "$tmp" package/bin/node 2>"$tmp/tar.log"; then
    echo "no bin/node in $tarball: $(head -n 1 "$tmp/tar.log")"
    rm -rf "$tmp"
    return 1
  fi
  if [ ! -f "$tmp/package/bin/node" ]; then
    echo "tar extracted no package/bin/node from $tarball"
    rm -rf "$tmp"
    return 1
  fi
  if [ "$("$tmp/package/bin/node" -p 'process.versions.node.split(".")[0]' 2>&1)" != "$major" ]; then
    echo "the node in $tarball does not run as Node $major: $("$tmp/package/bin/node" --version 2>&1 | head -n 1)"
    rm -rf "$tmp"
    return 1
  fi
  # Replaced in one rename: a run using the cached node meanwhile keeps its file.
  mkdir -p "$dir/bin"
  mv "$tmp/package/bin/node" "$dir/bin/node.$$"
  mv -f "$dir/bin/node.$$" "$dir/bin/node"
  rm -rf "$tmp"
  echo "$dir/bin/node"
}

# The tiny TypeScript project that uses the library as users do.
write_consumer() {
  mkdir -p "$CONSUMER"
  cat >"$CONSUMER/package.json" <<'EOF'
{ "name": "pglock-consumer", "version": "1.0.0", "private": true, "type": "module" }
EOF
  cat >"$CONSUMER/tsconfig.json" <<'EOF'
{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022"],
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "strict": true,
    "noUncheckedIndexedAccess": true,
    "exactOptionalPropertyTypes": true,
    "noImplicitAny": true,
    "skipLibCheck": false,
    "types": ["node"],
    "outDir": "out"
  },
  "files": ["main.ts"]
}
EOF
  cat >"$CONSUMER/tsconfig.bad.json" <<'EOF'
{ "extends": "./tsconfig.json", "compilerOptions": { "noEmit": true }, "files": ["bad.ts"] }
EOF
  cat >"$CONSUMER/main.ts" <<'EOF'
import { strict as assert } from 'node:assert';
import { ExitCode, LockBusyError, PglockError, acquireLock, withLock, type AcquireOptions, type Lock } from 'pglock';

const url = process.env.CONSUMER_DATABASE_URL;
if (!url) throw new Error('CONSUMER_DATABASE_URL is not set');
const options: AcquireOptions = { url, key: `consumer-${process.version}-${process.pid}`, connectTimeoutMs: 5000 };

// withLock runs the critical section with the lock held and returns its value.
const value: number = await withLock(options, async (lock: Lock) => {
  assert.equal(lock.isHeld, true);
  assert.equal(lock.key, options.key);
  const [row] = await lock.sql<{ n: number }[]>`select 40 + 2 as n`;
  return row?.n ?? -1;
});
assert.equal(value, 42);

// acquireLock: a held lock, and a second acquire of the same key fails fast with the busy error.
const lock = await acquireLock(options);
assert.equal(typeof lock.id, 'bigint');
const busy: unknown = await acquireLock(options).then(
  async (second) => { await second.release(); return 'acquired twice'; },
  (error: unknown) => error,
);
assert.ok(busy instanceof LockBusyError, `expected a LockBusyError, got ${String(busy)}`);
assert.ok(busy instanceof PglockError);
assert.equal(busy.name, 'LockBusyError');
assert.equal(busy.constructor.name, 'LockBusyError');
assert.equal(busy.code, 'ELOCKED');
assert.equal(busy.exitCode, 75);
assert.equal(busy.exitCode, ExitCode.Conflict);
await lock.release();
assert.equal(lock.isHeld, false);

// Released: it can be taken again, here with `await using`.
{
  await using again = await acquireLock(options);
  assert.equal(again.isHeld, true);
}
console.log('consumer-ok');
EOF
  # Each line is one type error; the types must be real (an `any` would accept them all).
  cat >"$CONSUMER/bad.ts" <<'EOF'
import { acquireLock, withLock } from 'pglock';

await acquireLock({ key: 42 });
const text: string = await withLock({ key: 'k' }, () => 42);
await acquireLock({ key: 'k', timeoutMs: '5s' });
(await acquireLock({ key: 'k' })).relase();
EOF
}

# tsc rejects bad.ts with one type error on each of its lines 3-6, and for no other reason.
bad_types_rejected() {
  local out code=0
  out=$("$REPO/node_modules/.bin/tsc" -p tsconfig.bad.json 2>&1) || code=$?
  echo "$out"
  [ "$code" != 0 ] || { echo "tsc accepted bad.ts"; return 1; }
  local line
  for line in 3 4 5 6; do
    grep -qE "^bad\.ts\($line,[0-9]+\): error TS" <<<"$out" || { echo "no type error reported on bad.ts line $line"; return 1; }
  done
  if grep -E 'error TS' <<<"$out" | grep -vqE '^bad\.ts\([3-6],'; then
    echo "tsc failed for another reason than the deliberate errors"
    return 1
  fi
}

tap_summary() { grep -E '^# \{ total: [0-9]+' "$1" | tail -n 1 | sed 's/^# //'; }

# run_on_node <node binary>: the installed CLI, the consumer and the tap suite on that Node.
run_on_node() {
  local node=$1 version nodedir major log
  version=$("$node" --version)
  major=${version#v}
  major=${major%%.*}
  nodedir=$(dirname "$node")
  stage "Node $major ($version): installed CLI and consumer"
  ensure_server "Node $major"
  cd "$ELSEWHERE"
  check "Node $major: <node> .../bin/pglock.cjs --version prints $VERSION" prints "$VERSION" "$node" "$INSTALLED_BIN" --version
  check "Node $major: a locked run" prints locked-ok "$node" "$INSTALLED_BIN" -d "$URL" --key "package-test-$major" -- echo locked-ok
  check "Node $major: the consumer runs (withLock, acquireLock, the busy error)" prints consumer-ok "$node" "$CONSUMER/out/main.js"

  stage "Node $major ($version): tap, installed bin"
  cd "$REPO"
  log=$WORK/logs/tap-node-$major.log
  # test/unit/bundle.test.ts prints the Node its test process runs on: it must be this one (tap
  # spawns the test files with the node it runs on, here the first node on PATH).
  local files=("${SUITE[@]}") code=0
  [[ " ${files[*]} " == *" test/unit/bundle.test.ts "* ]] || files+=(test/unit/bundle.test.ts)
  PATH="$nodedir:$PATH" PGLOCK_TEST_BIN=$INSTALLED_BIN \
    "$REPO/node_modules/.bin/tap" --reporter=tap --disable-coverage "${files[@]}" >"$log" 2>&1 || code=$?
  local counts
  counts=$(tap_summary "$log")
  if grep -qE "^ +# running on Node $version " "$log"; then
    pass "Node $major: tap's test processes run on $version"
  else
    fail "Node $major: tap's test processes run on $version" "$log"
  fi
  if [ "$code" = 0 ]; then
    pass "Node $major: tap, ${#files[@]} files, against the installed bin: ${counts:-?}"
  else
    grep -E '^\s*not ok ' "$log" | head -n 20 | sed 's/^/    /' || true
    fail "Node $major: tap, ${#files[@]} files, against the installed bin: ${counts:-no summary} (exit $code)" "$log"
  fi
  cd "$ELSEWHERE"
}

# ---------------------------------------------------------------------------------------------

stage "npm pack"
[ -f dist/index.js ] && [ -f dist/pglock.cjs ] || die "dist/ is not built: run npm run build first"
check "npm pack" npm pack --pack-destination "$WORK" --silent
TARBALL=$(echo "$WORK"/pglock-*.tgz)
[ -f "$TARBALL" ] || die "npm pack made no tarball"
tar -tzf "$TARBALL" | sed 's|^package/||' | sort >"$WORK/tarball-files.txt"
check "the tarball holds what users need and nothing else" check_tarball_files "$WORK/tarball-files.txt"
tar -tvzf "$TARBALL" | awk '{ sub("^package/", "", $6); printf "%10d  %s\n", $3, $6 }' | sort -k2 >"$WORK/tarball-sizes.txt"
cat "$WORK/tarball-sizes.txt"
say "$(basename "$TARBALL"): $(wc -l <"$WORK/tarball-files.txt") files, $(($(wc -c <"$TARBALL") / 1024)) KiB packed," \
  "$(($(awk '{ total += $1 } END { print total }' "$WORK/tarball-sizes.txt") / 1024)) KiB unpacked"

stage "test server"
start_server

stage "npm install -g into a fresh prefix"
check "npm install -g --prefix <tmp> <tarball>" npm install -g --prefix "$PREFIX" "$TARBALL" --no-audit --no-fund
[ -x "$PREFIX/bin/pglock" ] || die "npm install -g made no $PREFIX/bin/pglock"
check "npm install -g installs the man page (man pglock)" test -e "$PREFIX/share/man/man1/pglock.1"
cd "$ELSEWHERE"
check "pglock --version prints $VERSION" prints "$VERSION" "$PREFIX/bin/pglock" --version
check "pglock -d URL --key k -- echo locked-ok" prints locked-ok "$PREFIX/bin/pglock" -d "$URL" --key k -- echo locked-ok
check "pglock status -d URL exits 0" "$PREFIX/bin/pglock" status -d "$URL"
check "pglock with no command exits 64" fails_with 64 "$PREFIX/bin/pglock" -d "$URL" --key k

stage "TypeScript consumer: install, type-check, build"
write_consumer
cd "$CONSUMER"
check "npm install <tarball> @types/node in the consumer" \
  npm install "$TARBALL" "@types/node@$(node -p "require('$REPO/node_modules/@types/node/package.json').version")" --no-audit --no-fund
# One tsc run both type-checks (it exits non-zero on any error, in main.ts or in a shipped .d.ts:
# skipLibCheck is off) and emits out/main.js.
check "tsc: the consumer type-checks against the shipped .d.ts, and builds" "$REPO/node_modules/.bin/tsc" -p tsconfig.json
check "tsc rejects bad.ts (the shipped types are real, not any)" bad_types_rejected
cd "$ELSEWHERE"

run_on_node "$(command -v node)"
machine_major=$(node -p 'process.versions.node.split(".")[0]')
for major in $EXTRA_NODES; do
  [ "$major" != "$machine_major" ] || continue
  stage "fetch Node $major"
  if node_bin=$(fetch_node "$major"); then
    # A hard link (or a copy) of the cached binary: the run keeps its node whatever happens to the
    # cache meanwhile (another job may clear it).
    mkdir -p "$WORK/node-$major/bin"
    ln -f "$node_bin" "$WORK/node-$major/bin/node" 2>/dev/null || cp "$node_bin" "$WORK/node-$major/bin/node"
    say "Node $major: $node_bin ($("$node_bin" --version))"
    run_on_node "$WORK/node-$major/bin/node"
  else
    say "skipped Node $major: $node_bin"
  fi
done

end_stage
summary
[ "$FAILED" = 0 ]
