"""Benchmark micro-batching: 32 concurrent callers of a small torch model on 2 worker processes.

    python bench/serving_batching.py [--broker redis://127.0.0.1:6379/0] [--seconds 8] [--callers 32]
                                     [--hidden 2048] [--depth 3] [--parallelism 2]

Starts two worker processes at a time on a fresh SQLite database and queue, and drives each setup
with ``--callers`` threads that predict one input after another for ``--seconds`` seconds:

* **raw celery**: a bare Celery task that runs the same network on one input (same app, broker,
  codec and worker settings; ``prefork``, one process per core): the baseline;
* **superlite, no batching**: ``TorchModel.predict`` through a proxy on ``prefork`` workers
  (the default deployment);
* **superlite, batching on workers only**: the same model with
  ``batching=Batching(max_size=32, max_wait_ms=5)`` (``--max-wait-ms``) on ``--pool threads --concurrency 16``
  workers, so concurrent calls meet in one process, called from a Datalayer connected with
  ``caller_batching=False``: every call is a task of its own;
* **superlite, batching**: the same, from a Datalayer with the default ``caller_batching=True``:
  calls made while ``--parallelism`` (2: one per worker process, as ``docs/serving.md``
  advises; ``connect``'s default is 8) tasks of the model are in flight leave together as one
  ``predict_batches`` task, which the workers merge further.

Each worker process loads the models (``--preload "model:*"``) and builds the raw task's network
before a setup is driven, so that no setup measures a model load. It prints throughput and p50/p99
latency of each, as ratios against the raw Celery baseline, and the batching speed-up over no
batching (goal: >= 3x). On Linux it also prints the CPU each call cost (milliseconds, in the
worker processes and in this calling process), how busy the whole machine was (other work on a
shared machine takes CPU from the setups), and the mean batch size the batching workers formed
(from their status rows) and, with caller batching, the mean number of calls per task sent. Workers run torch on one thread each (``OMP_NUM_THREADS=1``), as two
processes on a two-core machine should. The network is ``WideMLP(64, 10, hidden, depth)`` from
``examples/torch_nets``: the larger it is, the more of a call is the model rather than the
transport, and the more batching can save.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery import shared_task

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))

#: The network: WideMLP(N_IN, N_OUT, hidden, depth) built after torch.manual_seed(SEED). Its size
#: (``--hidden``, ``--depth``) sets how much of a call is the model rather than the transport.
N_IN, N_OUT, SEED = 64, 10, 0
_NET: list[Any] = []


def build_net(hidden: int, depth: int) -> Any:
    """The benchmark network, identical in every process."""
    import torch
    from torch_nets import WideMLP

    torch.manual_seed(SEED)
    return WideMLP(N_IN, N_OUT, hidden=hidden, depth=depth).eval()


@shared_task(name="bench.mlp")
def mlp(x: list[float], hidden: int, depth: int) -> list[float]:
    """The raw baseline: the network on one input, in a bare Celery task."""
    import torch

    if not _NET:
        _NET.append(build_net(hidden, depth))
    with torch.inference_mode():
        return _NET[0](torch.tensor([x]))[0].tolist()


def serve(uri: str, broker: str, queue: str, pool: str, concurrency: int, hidden: int, depth: int) -> int:
    """A worker subprocess: ``superlite worker --preload "model:*"`` with ``bench.mlp`` registered too.

    The raw baseline's network is built before the pool starts and the superlite models are
    preloaded, so that no setup measures a model load.
    """
    from superlite.compute.celery.worker import FollowOptions, run_worker
    from superlite.config import Settings
    from superlite.registry.follow import FollowSpec

    _NET.append(build_net(hidden, depth))
    return run_worker(
        Settings(uri=uri, broker=broker), concurrency=concurrency, queues=[queue], pool=pool,
        paths=[str(EXAMPLES)], loglevel="WARNING",
        follow=FollowOptions(specs=(FollowSpec.parse("model:*"),), heartbeat_interval=HEARTBEAT),
    )


#: Seconds between the workers' status rows (which carry their batch counts).
HEARTBEAT = 0.5

#: /proc/stat and /proc/PID/stat give CPU times (Linux); elsewhere the CPU columns are left out.
PROC = Path("/proc/stat")


def process_cpu(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) the processes ``pids`` have used so far."""
    total = 0
    for pid in pids:
        fields = (PROC.parent / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def with_children(pids: Sequence[int]) -> list[int]:
    """``pids`` and the ids of their child processes (the prefork pool processes), where /proc says."""
    files = [PROC.parent / str(pid) / "task" / str(pid) / "children" for pid in pids]
    return [*pids, *(int(child) for path in files if path.exists() for child in path.read_text().split())]


def machine_busy() -> tuple[int, int]:
    """``(busy, all)`` CPU ticks of the whole machine so far, from /proc/stat."""
    ticks = [int(value) for value in PROC.read_text().split("\n", 1)[0].split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


@dataclass
class Setup:
    """One setup's measurement: ``drive``'s figures, CPU per call and the batches formed."""

    figures: dict[str, float]
    worker_ms: float | None = None
    caller_ms: float | None = None
    machine: float | None = None
    batch: float | None = None
    sent: float | None = None


def batch_counts(db: Any, identifier: str) -> tuple[int, int]:
    """``(batches, inputs)`` the live workers report for model ``identifier``."""
    loaded = [m for row in db.workers() for m in row["loaded"] if m["identifier"] == identifier]
    return sum(int(m.get("batches", 0)) for m in loaded), sum(int(m.get("inputs", 0)) for m in loaded)


def measure(call: Callable[[list[float]], object], args: argparse.Namespace, pids: Sequence[int], db: Any, batched: str | None = None) -> Setup:
    """:func:`drive` ``call``, with the CPU it cost and, for model ``batched``, its mean batch sizes."""
    before = batch_counts(db, batched) if batched else (0, 0)
    sending = db.call_batching if batched else None
    sent = (sending.calls, sending.batches) if sending is not None else (0, 0)
    on_linux = PROC.exists()
    cpu = (process_cpu(pids), time.process_time(), machine_busy()) if on_linux else None
    figures = drive(call, args.callers, args.seconds)
    setup = Setup(figures)
    if cpu is not None:
        busy = machine_busy()
        setup.worker_ms = (process_cpu(pids) - cpu[0]) * 1000 / figures["calls"]
        setup.caller_ms = (time.process_time() - cpu[1]) * 1000 / figures["calls"]
        setup.machine = (busy[0] - cpu[2][0]) / max(1, busy[1] - cpu[2][1])
    if batched:
        time.sleep(3 * HEARTBEAT)  # the rows written after the last batch
        after = batch_counts(db, batched)
        setup.batch = (after[1] - before[1]) / max(1, after[0] - before[0])
    if sending is not None:
        setup.sent = (sending.calls - sent[0]) / max(1, sending.batches - sent[1])
    return setup


@contextmanager
def workers(db: Any, queue: str, pool: str, concurrency: int, args: argparse.Namespace, log_dir: Path) -> Iterator[list[int]]:
    """Two worker processes on ``queue``, each with every model of ``db`` loaded; stopped on exit.

    Yields the process ids of the workers and of their pool processes.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    models = len(db.show("model"))
    processes = []
    for index in range(2):
        log = open(log_dir / f"worker-{pool}-{index}.log", "wb")  # noqa: SIM115 - closed with the process
        command = [sys.executable, __file__, "--serve", db.settings.uri, "--broker", args.broker, "--queue", queue,
                   "--pool", pool, "--concurrency", str(concurrency), "--hidden", str(args.hidden), "--depth", str(args.depth)]
        processes.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), log))
    try:
        deadline = time.monotonic() + 300
        while True:
            pids = with_children([process.pid for process, _ in processes])
            # Rows of these processes only (without /proc, of any live worker on this fresh database).
            ready = [row for row in db.workers() if len(row["loaded"]) >= models and (row["pid"] in pids or not PROC.exists())]
            if len(ready) >= 2:
                break
            if time.monotonic() > deadline or any(process.poll() is not None for process, _ in processes):
                raise RuntimeError(f"workers did not start with {models} models loaded; see {log_dir}")
            time.sleep(0.1)
        yield pids
    finally:
        for process, log in processes:
            process.send_signal(signal.SIGTERM)
        for process, log in processes:
            process.wait(60)
            log.close()


def drive(call: Callable[[list[float]], object], callers: int, seconds: float) -> dict[str, float]:
    """``callers`` threads calling ``call`` back to back for ``seconds``: throughput and latencies."""
    import random

    latencies: list[list[float]] = [[] for _ in range(callers)]
    stop = time.perf_counter() + seconds
    start_line = threading.Barrier(callers)

    def caller(index: int) -> None:
        rng = random.Random(index)
        x = [rng.uniform(-1, 1) for _ in range(N_IN)]
        start_line.wait()
        while time.perf_counter() < stop:
            began = time.perf_counter()
            call(x)
            latencies[index].append(time.perf_counter() - began)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    flat = sorted(v for values in latencies for v in values)
    return {
        "throughput": len(flat) / elapsed,
        "p50": statistics.median(flat),
        "p99": flat[min(len(flat) - 1, int(0.99 * len(flat)))],
        "calls": len(flat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default=os.environ.get("SUPERLITE_BROKER", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each setup is driven")
    parser.add_argument("--callers", type=int, default=32, help="concurrent caller threads")
    parser.add_argument("--hidden", type=int, default=2048, help="units per hidden layer")
    parser.add_argument("--depth", type=int, default=3, help="hidden layers")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="the batching model's max_wait_ms")
    parser.add_argument("--parallelism", type=int, default=2,
                        help="the callers' parallelism option: tasks of one model in flight (default 2, one per worker, as docs/serving.md advises)")
    parser.add_argument("--serve", metavar="URI", help=argparse.SUPPRESS)
    parser.add_argument("--queue", help=argparse.SUPPRESS)
    parser.add_argument("--pool", default="prefork", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        sys.exit(serve(args.serve, args.broker, args.queue, args.pool, args.concurrency, args.hidden, args.depth))

    from superlite_torch import TorchModel

    import superlite
    from superlite import Batching
    from superlite.config import mask_uri

    results: dict[str, Setup] = {}
    with tempfile.TemporaryDirectory(prefix="superlite-bench-") as tmp:
        uri, queue = f"sqlite:///{tmp}/bench.db", f"bench-{uuid.uuid4().hex[:8]}"
        options: dict[str, Any] = {"broker": args.broker, "queue": queue, "timeout": 120, "parallelism": args.parallelism}
        with superlite.connect(uri, **options) as db, superlite.connect(uri, **options, caller_batching=False) as one_by_one:
            app = db.compute_backend.backend.app
            plain = db.apply(TorchModel("mlp", object=build_net(args.hidden, args.depth), batch_size=64))
            batched = db.apply(
                TorchModel("mlp-batched", object=build_net(args.hidden, args.depth), batch_size=64, batching=Batching(max_size=32, max_wait_ms=args.max_wait_ms))
            )
            plain_proxy, batched_proxy = db.load("model", plain.identifier), db.load("model", batched.identifier)
            unsent_proxy = one_by_one.load("model", batched.identifier)

            def raw(x: list[float]) -> object:
                return app.send_task("bench.mlp", args=(x, args.hidden, args.depth), queue=queue).get(timeout=120)

            with workers(db, queue, "prefork", 1, args, Path(tmp)) as pids:
                raw([0.0] * N_IN), plain_proxy.predict([0.0] * N_IN)  # noqa: B018 - connections open
                results["raw celery (prefork)"] = measure(raw, args, pids, db)
                results["superlite, no batching (prefork)"] = measure(plain_proxy.predict, args, pids, db)
            with workers(db, queue, "threads", 16, args, Path(tmp)) as pids:
                plain_proxy.predict([0.0] * N_IN), batched_proxy.predict([0.0] * N_IN), unsent_proxy.predict([0.0] * N_IN)  # noqa: B018
                results["superlite, no batching (threads x16)"] = measure(plain_proxy.predict, args, pids, db)
                results["batching on workers only (threads x16)"] = measure(unsent_proxy.predict, args, pids, one_by_one, batched.identifier)
                results["superlite, batching (threads x16)"] = measure(batched_proxy.predict, args, pids, db, batched.identifier)

    base = results["raw celery (prefork)"].figures
    print(f"superlite micro-batching benchmark: broker {mask_uri(args.broker)}, 2 workers, {args.callers} callers, "
          f"callers' parallelism {args.parallelism}, "
          f"{args.seconds:g} s each, WideMLP({N_IN}, {N_OUT}, hidden={args.hidden}, depth={args.depth}), Python {sys.version.split()[0]}")
    print("baseline: raw Celery task running the same network on one input, same app, broker and queue")
    print("CPU ms per call in the workers and in the calling process; machine: share of both cores busy (any process)")
    print(f"    {'setup':<38} {'calls/s':>9} {'x raw':>7} {'p50 ms':>8} {'p99 ms':>8} {'p99 x raw':>10} "
          f"{'worker cpu':>11} {'caller cpu':>11} {'machine':>8} {'batch':>6} {'sent':>5}")
    for name, setup in results.items():
        r = setup.figures
        extra = "".join(
            f" {'-':>{width}}" if value is None else f" {value:{width}{spec}}"
            for value, width, spec in (
                (setup.worker_ms, 11, ".2f"), (setup.caller_ms, 11, ".2f"), (setup.machine, 8, ".0%"), (setup.batch, 6, ".1f"), (setup.sent, 5, ".1f")
            )
        )
        print(f"    {name:<38} {r['throughput']:9.0f} {r['throughput'] / base['throughput']:7.2f} "
              f"{r['p50'] * 1000:8.2f} {r['p99'] * 1000:8.2f} {r['p99'] / base['p99']:10.2f}{extra}")
    speedup = results["superlite, batching (threads x16)"].figures["throughput"] / results["superlite, no batching (prefork)"].figures["throughput"]
    workers_only = results["batching on workers only (threads x16)"].figures["throughput"] / results["superlite, no batching (prefork)"].figures["throughput"]
    print("batch: mean inputs per predict_batches call on the workers; sent: mean calls per task the caller sent")
    print(f"batching vs no batching (prefork, the default): {speedup:.2f}x throughput  (goal >= 3x); "
          f"batching on workers only: {workers_only:.2f}x")
    plain, batching = results["superlite, no batching (prefork)"], results["superlite, batching (threads x16)"]
    if plain.worker_ms is not None and plain.caller_ms is not None and batching.worker_ms is not None and batching.caller_ms is not None:
        cost, batched_cost = plain.worker_ms + plain.caller_ms, batching.worker_ms + batching.caller_ms
        print(f"CPU per call, workers + caller: no batching (prefork) {cost:.2f} ms, batching {batched_cost:.2f} ms: "
              f"{cost / batched_cost:.2f}x, the speed-up when callers and workers share busy cores")


if __name__ == "__main__":
    main()
