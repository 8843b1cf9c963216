# Fetching the Node versions for scripts/package-test.sh (sourced); uses WORK and NODE_CACHE.
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
