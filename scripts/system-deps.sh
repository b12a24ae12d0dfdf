#!/usr/bin/env bash
# Installs the Debian packages the tests use (only the missing ones). As root it runs
# apt-get; otherwise it prints the command and carries on (the tests needing them skip).
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "note: some tests need: sudo apt-get install ${missing[*]}" >&2
fi
