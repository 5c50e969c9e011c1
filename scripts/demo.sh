#!/usr/bin/env bash
# Install everything and run the demo on the embedded default (SQLite, in-process compute).
# Extra arguments go to the demo, e.g. scripts/demo.sh --uri mongomock://demo
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh all
"${SUPERLITE_VENV:-.venv}/bin/python" examples/demo.py "$@"
