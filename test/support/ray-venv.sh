#!/usr/bin/env bash
# A virtual environment with plain `ray` (no dashboard extras) for test/integration/ray.test.ts.
# Idempotent: does nothing when the venv already runs `ray --version`. Used by .ci/run and `npm test`;
# run it by hand before the Ray test: bash test/support/ray-venv.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${ENGINE_ROOM_RAY_VENV:-test/.work/ray-venv}"
if [ -x "$venv/bin/ray" ] && "$venv/bin/ray" --version >/dev/null 2>&1; then
  exit 0
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet ray
"$venv/bin/ray" --version
