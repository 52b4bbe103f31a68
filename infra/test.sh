#!/usr/bin/env bash
# `npm test`: builds the workspaces, type-checks the tests, and runs every Jest suite against the local
# Postgres and Redis (prepared by `npm run setup`; the suites use the retail_test database and Redis db 15).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
npx tsc -p tsconfig.check.json
NODE_OPTIONS="--experimental-vm-modules --disable-warning=ExperimentalWarning ${NODE_OPTIONS:-}" npx jest "$@"
