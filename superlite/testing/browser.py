"""Headless Chromium for dashboard tests: find it, or skip (fail under ``SUPERLITE_REQUIRE_SERVICES=1``).

Chromium is a system package (Debian: ``apt-get install chromium``); see the README's test
prerequisites.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from superlite.testing.services import require_executable

#: Executable names tried in order.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

#: Milliseconds of page time Chromium lets scripts run (fetches, timers) before dumping or shooting.
SCRIPT_BUDGET_MS = 5000


def require_chromium() -> str:
    """The path of a Chromium executable, or skip (fail under CI) when none is installed."""
    return require_executable(CHROMIUM_NAMES, "Debian: apt-get install chromium")


def _run(chromium: str, *args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        f"--user-data-dir={profile}", f"--virtual-time-budget={SCRIPT_BUDGET_MS}", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def dump_dom(chromium: str, url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (as serialized HTML)."""
    return _run(chromium, "--dump-dom", url, profile=profile).stdout


def screenshot(chromium: str, url: str, path: Path, profile: Path, size: tuple[int, int] = (1280, 1100)) -> Path:
    """A PNG of the page after its scripts ran."""
    _run(chromium, f"--screenshot={path}", f"--window-size={size[0]},{size[1]}", url, profile=profile)
    return path
