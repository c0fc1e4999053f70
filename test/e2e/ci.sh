#!/usr/bin/env bash
# One-shot for CI or a fresh machine: install (npm registry + Debian apt only), then self-check the harness.
# Needs the repo's devDependencies (npm ci) for playwright-core, @vscode/vsce and mocha.
#   bash test/e2e/ci.sh            # exit code = smoke result
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
T0=$(date +%s)
bash "$HERE/setup.sh"
T1=$(date +%s)
set +e
timeout 600 node "$HERE/smoke.mjs" </dev/null; RC=$?
echo "[e2e-ci] setup $((T1 - T0))s, smoke $(( $(date +%s) - T1 ))s, rc=$RC"
exit $RC
