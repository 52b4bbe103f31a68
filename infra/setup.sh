#!/usr/bin/env bash
# `npm run setup`: everything a fresh machine needs before `npm test` or `npm start`. Idempotent.
#   1. Node 24 (when the machine's Node is older)
#   2. the dependencies, exactly as package-lock.json pins them
#   3. local Postgres (+pgvector) and Redis, and Debian's Chromium for the browser tests
#   4. a build of every workspace and the database migrations
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/bin:$PATH"

bash infra/ensure-node.sh
hash -r
echo "[setup] node $(node -v), npm $(npm -v)"
npm ci --no-audit --no-fund
bash infra/local-services.sh
# Debian's Chromium for the browser tests (playwright-core drives it; nothing is downloaded at test time).
if [ ! -x /usr/bin/chromium ]; then
  echo "[setup] installing Debian's chromium for the browser tests"
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
fi
npm run build --silent
npm run migrate --silent
echo "[setup] done: run \`npm test\`"
