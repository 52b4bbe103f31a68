#!/usr/bin/env bash
# `npm run setup`: everything a fresh machine needs before `npm test` or `npm start`. Idempotent.
#   1. Node 24 (when the machine's Node is older)
#   2. the dependencies, exactly as package-lock.json pins them
#   3. local Postgres (+pgvector) and Redis
#   4. a build of every workspace and the database migrations
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/bin:$PATH"

bash infra/ensure-node.sh
hash -r
echo "[setup] node $(node -v), npm $(npm -v)"
npm ci --no-audit --no-fund
bash infra/local-services.sh
npm run build --silent
npm run migrate --silent
echo "[setup] done: run \`npm test\`"
