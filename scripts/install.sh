#!/usr/bin/env bash
# Create ./.venv if needed and install superlite with its plugins (editable) and the given extras.
# Usage: scripts/install.sh [EXTRAS]   e.g. scripts/install.sh all,test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"
venv="${SUPERLITE_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# torch is pinned to the build that is on local disk here (any other version downloads gigabytes).
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -c scripts/constraints.txt \
  -e ".[$extras]" -e plugins/mongodb -e plugins/torch
