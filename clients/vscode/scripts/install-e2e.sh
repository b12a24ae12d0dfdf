#!/usr/bin/env bash
# Installs what the VS Code client's tests need, idempotently (a second run only
# checks, in about a second):
#   - the extension's npm dependencies (npm ci, when package-lock.json changed);
#   - Debian's chromium (driven by playwright-core), ripgrep and libkrb5-dev;
#   - code-server 4.99.4 from npm (bundles VS Code 1.99.3, runs on Node 20)
#     into $CAW_E2E_HOME (default ~/.cache/caw-e2e), outside the work tree so
#     fresh clones (CI) reuse it.
# code-server's install downloads nothing beyond the npm registry when
# kerberos builds against libkrb5-dev and @vscode/ripgrep finds Debian's rg in
# its download cache (see below).
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
CODE_SERVER_VERSION=4.99.4
CAW_E2E_HOME=${CAW_E2E_HOME:-$HOME/.cache/caw-e2e}
PREFIX="$CAW_E2E_HOME/code-server-$CODE_SERVER_VERSION"
BIN="$PREFIX/node_modules/.bin/code-server"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# 1. The extension's dependencies.
stamp="$HERE/node_modules/.caw-lock.sha256"
want="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "install-e2e: npm ci in $HERE"
  (cd "$HERE" && npm ci --loglevel=error)
  echo "$want" > "$stamp"
fi

# 2. Debian packages.
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v rg >/dev/null 2>&1 || need_apt+=(ripgrep)
dpkg-query -W -f='${Status}' libkrb5-dev 2>/dev/null | grep -q "install ok installed" || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    # Not fatal: the VS Code e2e tests skip without their toolchain (and fail under CI).
    echo "install-e2e: the VS Code e2e tests need: sudo apt-get install ${need_apt[*]}" >&2
    exit 0
  fi
  echo "install-e2e: apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# 3. code-server.
if [ -x "$BIN" ] && [ -f "$PREFIX/.complete" ]; then
  echo "install-e2e: ready (code-server $CODE_SERVER_VERSION at $BIN)"
  exit 0
fi

# @vscode/ripgrep's postinstall downloads a release from GitHub unless the
# archive is already in its cache; put Debian's rg there under that name.
RG_CACHE="$(node -p 'require("os").tmpdir()')/vscode-ripgrep-cache-1.15.11"
RG_TGZ="$RG_CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -s "$RG_TGZ" ]; then
  mkdir -p "$RG_CACHE"
  tmp=$(mktemp -d)
  cp "$(command -v rg)" "$tmp/rg"
  tar -C "$tmp" -czf "$RG_TGZ" rg
  rm -rf "$tmp"
fi

echo "install-e2e: installing code-server $CODE_SERVER_VERSION into $PREFIX (about a minute)"
rm -rf "$PREFIX"
mkdir -p "$PREFIX"
cd "$PREFIX"
echo '{"name":"caw-e2e-code-server","private":true}' > package.json
# As root, npm would run the install scripts as another user without unsafe-perm.
# (--ignore-scripts is no way out: code-server's postinstall sets up VS Code.)
npm_config_unsafe_perm=true npm_config_yes=true \
  npm install --loglevel=error "code-server@$CODE_SERVER_VERSION"
tmpcfg=$(mktemp -d)
"$BIN" --config "$tmpcfg/config.yaml" --version
rm -rf "$tmpcfg"
touch "$PREFIX/.complete"
echo "install-e2e: ready (code-server $CODE_SERVER_VERSION at $BIN)"
