"""Load test: many remote predictions from many threads on two workers; nothing may be lost or doubled.

    python bench/load.py [--broker redis://127.0.0.1:6379/0] [--calls 10000] [--threads 8]

Starts two ``superlite worker`` processes (``--concurrency 1`` each) on a fresh SQLite database
and queue, then sends ``--calls`` predictions of a model that echoes its input (and writes the
input to a log, one line per execution) from ``--threads`` threads, each input different. It prints:

* **lost**: calls that raised or got no answer; **mismatched**: answers that are not their own
  input; **duplicated**: inputs the workers ran more than once. All must be 0;
* the workers' resident memory growth over the run (pool processes, after warm-up);
* throughput, as a ratio against one thread sending the first 500 calls one after another in
  the same run.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from superlite import ObjectModel
from superlite.config import mask_uri
from superlite.testing.workers import running_stack


def echo_logged(log: str) -> Any:
    """A model that appends its input to ``log`` (one line per execution) and returns it."""

    def echo(x: int) -> int:
        with open(log, "a") as out:
            out.write(f"{x}\n")
        return x

    return echo


def resident_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def send_all(model: Any, inputs: list[int], threads: int) -> tuple[dict[int, Any], list[str], float]:
    """Predict every input, ``threads`` at a time: answers by input, errors, seconds taken."""
    answers: dict[int, Any] = {}
    errors: list[str] = []
    lock = threading.Lock()
    shares = [inputs[i::threads] for i in range(threads)]

    def run(share: list[int]) -> None:
        for x in share:
            try:
                answer = model.predict(x)
            except Exception as exc:  # noqa: BLE001 - a lost call is what this test counts
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                answers[x] = answer

    workers = [threading.Thread(target=run, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return answers, errors, time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the load test, print the figures, and return them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "executions.log"
        with running_stack("sqlite", args.broker, Path(directory), "--concurrency", "1", count=2) as stack:
            with stack.connect(timeout=60) as db:
                model = db.load("model", db.apply(ObjectModel("echo", object=echo_logged(str(log)))).identifier)
                pool_pids = [pid for worker in stack.workers for pid in worker.pids() - {worker.pid}]
                for x in range(-200, 0):
                    model.predict(x)  # warm-up: both workers loaded, connections open
                before = {pid: resident_kb(pid) for pid in pool_pids}
                _, _, sequential = send_all(model, list(range(-700, -200)), 1)
                answers, errors, elapsed = send_all(model, list(range(args.calls)), args.threads)
                after = {pid: resident_kb(pid) for pid in pool_pids}
        executions = collections.Counter(int(line) for line in log.read_text().split() if int(line) >= 0)
    lost = args.calls - len(answers)
    mismatched = sum(1 for x, answer in answers.items() if answer != x)
    duplicated = sum(count - 1 for count in executions.values() if count > 1)
    growth = {pid: (after[pid] - before[pid]) / 1024 for pid in pool_pids}
    throughput, single = args.calls / elapsed, 500 / sequential
    print(f"load test: broker {mask_uri(args.broker)}, 2 workers x 1 process, {args.calls} predictions from "
          f"{args.threads} threads")
    print(f"    lost {lost}   mismatched {mismatched}   duplicated {duplicated}   (all must be 0)")
    if errors:
        print(f"    first error: {errors[0]}")
    print(f"    worker resident memory growth: {', '.join(f'{mb:+.1f} MiB' for mb in growth.values())}")
    print(f"    throughput {throughput:.0f} predictions/s = {throughput / single:.2f} x one thread "
          f"({single:.0f}/s, measured in the same run)")
    return {"lost": lost, "mismatched": mismatched, "duplicated": duplicated, "throughput": throughput}


if __name__ == "__main__":
    main()
