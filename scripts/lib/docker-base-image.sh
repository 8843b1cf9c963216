# The stand-in for node:20-bookworm-slim, for scripts/docker-test.sh (sourced at its step 2): a
# Debian bookworm minbase (debootstrap, from the Debian mirror in /etc/apt/sources.list*) with this
# machine's own node and npm in /usr/local and a `node` user (uid 1000), like the official image,
# cached under $CACHE_DIR keyed by the node version and everything else that goes into it, so only
# the first run pays for debootstrap; imported into the engine as $BASE_IMAGE.
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
