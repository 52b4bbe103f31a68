#!/usr/bin/env bash
# `npm test`: builds the workspaces, type-checks the tests, and runs every Jest suite against the local
# Postgres and Redis (prepared by `npm run setup`) in parallel workers: worker N uses the database
# retail_test_N (created here by test/jest-global-setup.js), Redis db 16 - N and the queue prefix retail-test-N.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
npx tsc -p tsconfig.check.json
NODE_OPTIONS="--experimental-vm-modules --disable-warning=ExperimentalWarning ${NODE_OPTIONS:-}" npx jest "$@"
