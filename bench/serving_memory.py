"""Benchmark many models in bounded memory: 100 models of 5-20 MB, a worker cache budget for 10.

    python bench/serving_memory.py [--broker redis://127.0.0.1:6379/0] [--models 100] [--requests 1000]

Applies ``--models`` models whose weights are 5 to 20 MB of float32 (sizes spread evenly, shuffled)
to a fresh SQLite database, starts one ``superlite worker`` (one pool process) with ``--cache-mb``
set to hold about ten of them, and sends ``--requests`` predictions whose targets follow a Zipf
law (rank r asked with probability proportional to 1/r^1.1, the popular models chosen at random).
Each model records in a file every time a process loads it.

It prints the pool process's resident memory above its idle level (sampled every 25 requests)
as a ratio of the cache budget (goal: <= 1.2x), the cache hit ratio, and the loads per 1000
requests (a cache that thrashes loads on most requests).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from superlite import ObjectModel
from superlite.config import mask_uri
from superlite.testing.workers import running_stack

MIB = 2**20


class Weights:
    """A model's weights: ``size_mb`` MiB of float32 that log every load (unpickling) to ``log``."""

    def __init__(self, size_mb: float, seed: int, log: str) -> None:
        self.array = np.random.default_rng(seed).random(int(size_mb * MIB / 4), dtype=np.float32)
        self.log = log

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        with open(self.log, "a") as out:
            out.write("load\n")

    def __call__(self, x: Any) -> float:
        return float(self.array[x % len(self.array)])


def resident_mb(pid: int) -> float:
    """The resident set size of process ``pid``, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print the figures, and return them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--cached", type=int, default=10, help="how many average models the budget holds")
    args = parser.parse_args(argv)
    rng = random.Random(0)
    sizes = [5 + 15 * i / max(1, args.models - 1) for i in range(args.models)]
    rng.shuffle(sizes)
    budget_mb = args.cached * sum(sizes) / len(sizes)
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "loads.log"
        log.touch()
        with running_stack("sqlite", args.broker, Path(directory), count=0) as stack:
            with stack.connect(timeout=120) as db:
                started = time.perf_counter()
                names = [db.apply(ObjectModel(f"m{i:03d}", object=Weights(size, i, str(log)))).identifier for i, size in enumerate(sizes)]
                applied = time.perf_counter() - started
                log.write_text("")
                (worker,) = stack.start("--concurrency", "1", "--cache-mb", f"{budget_mb:.0f}", "--cache-items", str(args.models))
                (pool_pid,) = worker.pids() - {worker.pid}
                proxies = [db.load("model", name) for name in names]
                popularity = list(range(args.models))
                rng.shuffle(popularity)
                weights = [1 / (rank + 1) ** 1.1 for rank in range(args.models)]
                targets = rng.choices(popularity, weights=weights, k=args.requests)
                idle = resident_mb(pool_pid)
                peak = idle
                for n, target in enumerate(targets):
                    proxies[target].predict(n)
                    if n % 25 == 0:
                        peak = max(peak, resident_mb(pool_pid))
                peak = max(peak, resident_mb(pool_pid))
                loads = len(log.read_text().splitlines())
    figures = {
        "budget_mb": budget_mb, "idle_mb": idle, "peak_mb": peak, "loads": loads, "requests": args.requests,
        "distinct": len(set(targets)),
    }
    print(f"many models: broker {mask_uri(args.broker)}, {args.models} models of 5-20 MB ({sum(sizes):.0f} MB, "
          f"applied in {applied:.1f} s), 1 pool process, --cache-mb {budget_mb:.0f} (about {args.cached} models), "
          f"{args.requests} Zipf(1.1) requests over {figures['distinct']} distinct models")
    print(f"    resident memory: idle {idle:.0f} MiB, peak {peak:.0f} MiB; above idle {peak - idle:.0f} MiB = "
          f"{(peak - idle) / budget_mb:.2f} x the budget (goal <= 1.2 x)")
    print(f"    cache hit ratio {1 - loads / args.requests:.3f}; loads per 1000 requests {1000 * loads / args.requests:.0f} "
          f"(every model loaded once at least: {figures['distinct']})")
    return figures


if __name__ == "__main__":
    main()
