"""Timing helpers shared by the benchmark scripts (``bench/`` is first on ``sys.path`` when one runs)."""

from __future__ import annotations

import time
from collections.abc import Callable


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank: an observed value, never interpolated)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def call_times(call: Callable[[], object], calls: int) -> list[float]:
    """Seconds each of ``calls`` sequential calls of ``call`` took, after one untimed warm-up call."""
    call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times
