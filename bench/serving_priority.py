"""Benchmark priorities: high-priority latency under a flood of low-priority requests, vs idle.

    python bench/serving_priority.py [--broker redis://127.0.0.1:6379/0] [--calls 60] [--work-ms 20]

Starts two ``superlite worker`` processes (``--concurrency 1`` each) on a fresh SQLite database
and queue, applies a model that works ``--work-ms`` milliseconds per call, then measures the
latency of sequential calls in the same run:

* **idle**: high-priority calls with nothing else queued (the baseline);
* **flood, high**: high-priority calls while a second caller keeps about 200 low-priority calls
  queued;
* **flood, no priority**: the same flood with every call at the default priority, i.e. what the
  flood does to a call that cannot overtake it.

Each figure is printed as a ratio against idle (goal: flood, high p99 <= 2x idle p99).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from measure import call_times, percentile

from superlite import ObjectModel
from superlite.config import mask_uri
from superlite.testing.workers import running_stack

#: How many low-priority calls the flood keeps waiting in the queue.
BACKLOG = 200


def worker_of(seconds: float) -> Any:
    """A model that works ``seconds`` per call (sleeping: the worker is busy, the CPU is not)."""

    def work(x: Any) -> Any:
        time.sleep(seconds)
        return x

    return work


class Flood:
    """A caller thread that keeps about :data:`BACKLOG` calls of ``priority`` waiting in the queue."""

    def __init__(self, db: Any, reference: str, priority: str | None) -> None:
        self.db, self.reference, self.priority = db, reference, priority
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        pending: list[Any] = []
        while not self.stop.is_set():
            pending = [h for h in pending if not h.done()]
            while len(pending) < BACKLOG:
                pending.append(self.db.compute(self.reference, "predict", (0,), priority=self.priority, wait=False))
            time.sleep(0.01)

    def __enter__(self) -> Flood:
        self.thread.start()
        time.sleep(1.0)  # the backlog builds up
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.db.compute_backend.backend.purge()


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    """Run the benchmark, print the figures, and return them (``{setup: latencies in seconds}``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--work-ms", type=float, default=20.0)
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        with running_stack("sqlite", args.broker, Path(directory), "--concurrency", "1", count=2) as stack:
            with stack.connect(timeout=120) as db, stack.connect(timeout=120) as flooder:
                model = db.apply(ObjectModel("busy", object=worker_of(args.work_ms / 1000)))

                def high() -> object:
                    return db.compute(model.reference, "predict", (1,), priority="high")

                def plain() -> object:
                    return db.compute(model.reference, "predict", (1,))

                results["idle, high"] = call_times(high, args.calls)
                with Flood(flooder, model.reference, "low"):
                    results["flood, high"] = call_times(high, args.calls)
                with Flood(flooder, model.reference, None):
                    results["flood, no priority"] = call_times(plain, max(5, args.calls // 10))
    base_median, base_p99 = statistics.median(results["idle, high"]), percentile(results["idle, high"], 0.99)
    print(f"priorities: broker {mask_uri(args.broker)}, 2 workers x 1, a model working {args.work_ms:g} ms, "
          f"flood of {BACKLOG} queued calls")
    print(f"    {'setup':<20} {'calls':>5} {'median ms':>10} {'x idle':>7} {'p99 ms':>8} {'x idle':>7}")
    for name, values in results.items():
        median, tail = statistics.median(values), percentile(values, 0.99)
        print(f"    {name:<20} {len(values):5d} {median * 1000:10.1f} {median / base_median:7.2f} "
              f"{tail * 1000:8.1f} {tail / base_p99:7.2f}")
    print("goal: flood, high p99 <= 2x idle p99")
    return results


if __name__ == "__main__":
    main()
