#!/usr/bin/env bash
# Install superlite with test dependencies and run the whole test suite (core and plugins).
# Extra arguments go to pytest. SUPERLITE_REQUIRE_SERVICES=1 turns "service missing" skips into failures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system-test-tools.sh
scripts/install.sh all,test
"${SUPERLITE_VENV:-.venv}/bin/python" -m pytest "$@"
