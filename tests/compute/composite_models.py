"""Member callables for the composite tests on workers (importable by worker processes)."""

from __future__ import annotations

import os
import time
from typing import Any


def pid(x: Any) -> int:
    """The pid of the process that answered."""
    return os.getpid()


def inc(x: int) -> int:
    """``x + 1``."""
    return x + 1


def double(x: int) -> int:
    """``2 * x``."""
    return 2 * x


def fail(x: Any) -> Any:
    """Always fails, naming the input."""
    raise ValueError(f"cannot score {x!r}")


def nap(x: float) -> float:
    """Sleep ``x`` seconds, then return it."""
    time.sleep(x)
    return x
