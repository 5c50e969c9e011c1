"""Benchmark an ensemble of 3 on 2 workers against its slowest member, and where to combine it.

    python bench/serving_ensemble.py [--broker redis://127.0.0.1:6379/0] [--calls 20]

Starts two ``superlite worker`` processes (``--concurrency 1`` each) on a fresh SQLite database
and queue, applies three members that take 40, 70 and 100 ms, then measures in the same run
the median latency of:

* the slowest member alone (the baseline);
* the ensemble combined **on the worker** that received the request (``db.load(...).predict``):
  its members run on threads of that worker process;
* the ensemble combined **on the caller** (``db.load(..., lazy=False).predict``): each member
  is a task of its own, fanned out through ``db.compute`` to any worker.

Both with members that release the GIL while working (``sleep``: I/O, numpy, torch) and with
members that hold it (``cpu``: a pure-Python loop). Each figure is printed as a ratio against
the slowest member measured in the same run (goal: the ensemble <= 1.5x).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from measure import call_times

from superlite import Ensemble, ObjectModel
from superlite.testing.workers import running_stack

#: How long each member works, in seconds.
DURATIONS = (0.04, 0.07, 0.10)


def sleeper(seconds: float) -> Callable[[Any], float]:
    """A member that waits ``seconds`` without holding the GIL."""

    def member(x: Any) -> float:
        time.sleep(seconds)
        return seconds

    return member


def spin(iterations: int) -> int:
    """Pure-Python work that holds the GIL throughout."""
    total = 0
    for i in range(iterations):
        total += i
    return total


def spinner(seconds: float) -> Callable[[Any], float]:
    """A member doing a fixed amount of pure-Python work that takes ``seconds`` alone (measured here)."""
    probe = 200_000
    start = time.perf_counter()
    spin(probe)
    iterations = int(probe * seconds / (time.perf_counter() - start))

    def member(x: Any) -> float:
        spin(iterations)
        return seconds

    return member


def measure(db: Any, kind: str, calls: int) -> dict[str, float]:
    """Median latencies of the slowest member and of the ensemble combined on the worker and the caller."""
    make = sleeper if kind == "sleep" else spinner
    members = [ObjectModel(f"{kind}-member-{i}", object=make(s)) for i, s in enumerate(DURATIONS)]
    db.apply(Ensemble(f"{kind}-ensemble", models=members))
    slowest = db.load("model", members[-1].identifier)
    on_worker = db.load("model", f"{kind}-ensemble")
    on_caller = db.load("model", f"{kind}-ensemble", lazy=False)
    return {
        "slowest member": statistics.median(call_times(lambda: slowest.predict(0), calls)),
        "combined on worker": statistics.median(call_times(lambda: on_worker.predict(0), calls)),
        "combined on caller": statistics.median(call_times(lambda: on_caller.predict(0), calls)),
    }


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Run the benchmark, print the figures, and return them (``{kind: {figure: seconds}}``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        with running_stack("sqlite", args.broker, Path(directory), "--concurrency", "1", count=2) as stack:
            with stack.connect() as db:
                for kind in ("sleep", "cpu"):
                    results[kind] = measure(db, kind, args.calls)
    print(f"ensemble of 3 members ({', '.join(f'{s * 1000:.0f} ms' for s in DURATIONS)}) on 2 workers, "
          f"median of {args.calls} calls; ratio vs the slowest member (goal <= 1.5x)")
    for kind, figures in results.items():
        baseline = figures["slowest member"]
        for name, seconds in figures.items():
            print(f"  {kind:5} {name:20} {seconds * 1000:8.1f} ms  {seconds / baseline:5.2f}x")
    return results


if __name__ == "__main__":
    main()
