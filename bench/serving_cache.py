"""Benchmark the result cache: a remote hit vs a miss, and proof that hits never reach a worker.

    python bench/serving_cache.py [--broker redis://127.0.0.1:6379/0] [--calls 200] [--work-ms 5]

Starts one ``superlite worker`` on a fresh SQLite database and queue, applies a model declared
``cache=True`` that works ``--work-ms`` milliseconds per call and counts its calls in a file,
then measures in the same run the latency of sequential remote predictions:

* **miss**: each call with a new input (computed on the worker, its answer stored in Redis);
* **hit**: the same inputs again (answered from Redis by the caller's wrapper).

It prints the hit/miss ratio (goal <= 0.5x) and how many times the worker ran the model during
the hits (must be 0).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from superlite import ObjectModel
from superlite.config import mask_uri
from superlite.testing.workers import running_stack


def counting_worker(seconds: float, log: str) -> Any:
    """A model that works ``seconds`` and appends a line to ``log`` per call."""

    def work(x: Any) -> Any:
        time.sleep(seconds)
        with open(log, "a") as out:
            out.write("call\n")
        return x

    return work


def timed(call: Any, inputs: list[int]) -> list[float]:
    times = []
    for x in inputs:
        start = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    """Run the benchmark, print the figures, and return them (``{setup: latencies in seconds}``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--work-ms", type=float, default=5.0)
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "calls.log"
        with running_stack("sqlite", args.broker, Path(directory), "--concurrency", "1") as stack:
            with stack.connect(result_cache=args.broker) as db:
                work = counting_worker(args.work_ms / 1000, str(log))
                model = db.load("model", db.apply(ObjectModel("cached", object=work, cache=True)).identifier)
                model.predict(-1)
                inputs = [time.time_ns() + i for i in range(args.calls)]  # never seen before
                results["miss"] = timed(model.predict, inputs)
                calls_before = len(log.read_text().splitlines())
                results["hit"] = timed(model.predict, inputs)
                calls_during_hits = len(log.read_text().splitlines()) - calls_before
    miss, hit = statistics.median(results["miss"]), statistics.median(results["hit"])
    print(f"result cache: broker and cache {mask_uri(args.broker)}, 1 worker, a model working {args.work_ms:g} ms, "
          f"{args.calls} calls each")
    for name, values in results.items():
        print(f"    {name:<22} median {statistics.median(values) * 1000:8.3f} ms")
    print(f"    hit / miss           {hit / miss:8.3f} x   (goal <= 0.5 x)")
    print(f"    worker calls during the hits: {calls_during_hits} (must be 0)")
    return results


if __name__ == "__main__":
    main()
