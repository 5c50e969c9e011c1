"""Benchmark what the validated boundary costs a call: checked vs unchecked, in one run.

    python bench/boundary.py [--uri URI] [--calls 20000]

Stores one model in an embedded SQLite file (or ``--uri``) and times, alternating, best of 5:

1. ``db.compute(reference, "predict", (x,))`` in-process: the hot path of a loaded proxy;
2. ``db.record("model", name)``: a lookup that reaches the metadata store;
3. the argument checks alone, around a method that does nothing (``compute``'s arguments).

Each is timed through the public method (closed-check and argument checks) and through the
same method with the boundary taken off (``__wrapped__``), and printed as microseconds per call
and the checked/unchecked ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import superlite
from superlite import ObjectModel
from superlite.common.arguments import checks_arguments
from superlite.datalayer import Datalayer, check_target


def identity(x: Any) -> Any:
    """The model: as cheap as a model can be, so the boundary's share shows."""
    return x


def per_call(calls: int, *variants: Callable[[], Any]) -> list[float]:
    """Microseconds per call of each variant, best of 5 rounds, the variants alternating round by round."""
    best = [float("inf")] * len(variants)
    for _ in range(5):
        for index, call in enumerate(variants):
            start = time.perf_counter()
            for _ in range(calls):
                call()
            best[index] = min(best[index], (time.perf_counter() - start) / calls)
    return [seconds * 1e6 for seconds in best]


def unchecked(method: Callable[..., Any]) -> Callable[..., Any]:
    """The Datalayer method without its boundary (what ``public`` wrapped)."""
    return method.__wrapped__  # type: ignore[attr-defined]


def main() -> None:
    """Parse the options, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", help="database URI (default: a fresh SQLite file)")
    parser.add_argument("--calls", type=int, default=20_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        uri = options.uri or f"sqlite:///{Path(directory) / 'bench.db'}"
        with superlite.connect(uri, broker=None) as db:
            reference = db.load("model", db.apply(ObjectModel("bench-boundary", object=identity)).identifier).reference
            compute, record = unchecked(Datalayer.compute), unchecked(Datalayer.record)
            def noop(self: Datalayer, target: Any, method: str, args: Any = (), kwargs: Any = None, *, timeout: Any = None) -> None:
                return None

            checked_noop = checks_arguments(noop, target=check_target)
            rows = [
                ("checks alone (no-op)", lambda: checked_noop(db, reference, "predict", (1,)), lambda: noop(db, reference, "predict", (1,)), options.calls * 5),
                ("compute (in-process)", lambda: db.compute(reference, "predict", (1,)), lambda: compute(db, reference, "predict", (1,)), options.calls),
                ("record (store lookup)", lambda: db.record("model", "bench-boundary"), lambda: record(db, "model", "bench-boundary"), options.calls // 10),
            ]
            for name, checked_call, bare_call, calls in rows:
                bare, checked = per_call(calls, bare_call, checked_call)
                print(f"{name:24s} unchecked {bare:8.1f} us  checked {checked:8.1f} us  ratio {checked / bare:5.2f}x  (+{checked - bare:.1f} us)")


if __name__ == "__main__":
    main()
