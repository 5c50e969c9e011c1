"""Running the ``superlite`` command as a user does: a subprocess, its exit code and its output."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, uri: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m superlite *args`` with ``$SUPERLITE_URI`` set to ``uri`` (or unset)."""
    env = {**os.environ}
    env.pop("SUPERLITE_URI", None)
    if uri is not None:
        env["SUPERLITE_URI"] = uri
    return subprocess.run([sys.executable, "-m", "superlite", *args], capture_output=True, text=True, env=env, timeout=timeout)
