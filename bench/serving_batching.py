"""Benchmark micro-batching: 32 concurrent callers of a small torch model on 2 worker processes.

    python bench/serving_batching.py [--broker redis://127.0.0.1:6379/0] [--seconds 8] [--callers 32]
                                     [--hidden 2048] [--depth 3]

Starts two worker processes at a time on a fresh SQLite database and queue, and drives each setup
with ``--callers`` threads that predict one input after another for ``--seconds`` seconds:

* **raw celery**: a bare Celery task that runs the same network on one input (same app, broker,
  codec and worker settings; ``prefork``, one process per core): the baseline;
* **superlite, no batching**: ``TorchModel.predict`` through a proxy on ``prefork`` workers
  (the default deployment);
* **superlite, batching**: the same model with ``batching=Batching(max_size=32, max_wait_ms=5)``
  on ``--pool threads --concurrency 16`` workers, so concurrent calls meet in one process.

It prints throughput and p50/p99 latency of each, as ratios against the raw Celery baseline and
the batching speed-up over no batching (goal: >= 3x). Workers run torch on one thread each
(``OMP_NUM_THREADS=1``), as two processes on a two-core machine should. The network is
``WideMLP(64, 10, hidden, depth)`` from ``examples/torch_nets``: the larger it is, the more of a
call is the model rather than the transport, and the more batching can save.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


def serve(uri: str, broker: str, queue: str, pool: str, concurrency: int) -> int:
    """A worker subprocess: ``superlite worker`` with ``bench.mlp`` registered too."""
    from superlite.compute.celery.worker import run_worker
    from superlite.config import Settings

    return run_worker(
        Settings(uri=uri, broker=broker), concurrency=concurrency, queues=[queue], pool=pool,
        paths=[str(EXAMPLES)], loglevel="WARNING",
    )


@contextmanager
def workers(uri: str, broker: str, queue: str, pool: str, concurrency: int, log_dir: Path) -> Iterator[None]:
    """Two worker processes on ``queue``, stopped on exit."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    processes = []
    for index in range(2):
        log = open(log_dir / f"worker-{pool}-{index}.log", "wb")  # noqa: SIM115 - closed with the process
        command = [sys.executable, __file__, "--serve", uri, "--broker", broker, "--queue", queue,
                   "--pool", pool, "--concurrency", str(concurrency)]
        processes.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), log))
    try:
        yield
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
    parser.add_argument("--serve", metavar="URI", help=argparse.SUPPRESS)
    parser.add_argument("--queue", help=argparse.SUPPRESS)
    parser.add_argument("--pool", default="prefork", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        sys.exit(serve(args.serve, args.broker, args.queue, args.pool, args.concurrency))

    from superlite_torch import TorchModel

    import superlite
    from superlite import Batching
    from superlite.config import mask_uri

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="superlite-bench-") as tmp:
        uri, queue = f"sqlite:///{tmp}/bench.db", f"bench-{uuid.uuid4().hex[:8]}"
        with superlite.connect(uri, broker=args.broker, queue=queue, timeout=120) as db:
            app = db.compute_backend.backend.app
            plain = db.apply(TorchModel("mlp", object=build_net(args.hidden, args.depth), batch_size=64))
            batched = db.apply(
                TorchModel("mlp-batched", object=build_net(args.hidden, args.depth), batch_size=64, batching=Batching(max_size=32, max_wait_ms=5))
            )
            plain_proxy, batched_proxy = db.load("model", plain.identifier), db.load("model", batched.identifier)

            def raw(x: list[float]) -> object:
                return app.send_task("bench.mlp", args=(x, args.hidden, args.depth), queue=queue).get(timeout=120)

            with workers(uri, args.broker, queue, "prefork", 1, Path(tmp)):
                raw([0.0] * N_IN), plain_proxy.predict([0.0] * N_IN)  # noqa: B018 - workers ready, models loaded
                results["raw celery (prefork)"] = drive(raw, args.callers, args.seconds)
                results["superlite, no batching (prefork)"] = drive(plain_proxy.predict, args.callers, args.seconds)
            with workers(uri, args.broker, queue, "threads", 16, Path(tmp)):
                plain_proxy.predict([0.0] * N_IN), batched_proxy.predict([0.0] * N_IN)  # noqa: B018
                results["superlite, no batching (threads x16)"] = drive(plain_proxy.predict, args.callers, args.seconds)
                results["superlite, batching (threads x16)"] = drive(batched_proxy.predict, args.callers, args.seconds)

    base = results["raw celery (prefork)"]
    print(f"superlite micro-batching benchmark: broker {mask_uri(args.broker)}, 2 workers, {args.callers} callers, "
          f"{args.seconds:g} s each, WideMLP({N_IN}, {N_OUT}, hidden={args.hidden}, depth={args.depth}), Python {sys.version.split()[0]}")
    print("baseline: raw Celery task running the same network on one input, same app, broker and queue")
    print(f"    {'setup':<38} {'calls/s':>9} {'x raw':>7} {'p50 ms':>8} {'p99 ms':>8} {'p99 x raw':>10}")
    for name, r in results.items():
        print(f"    {name:<38} {r['throughput']:9.0f} {r['throughput'] / base['throughput']:7.2f} "
              f"{r['p50'] * 1000:8.2f} {r['p99'] * 1000:8.2f} {r['p99'] / base['p99']:10.2f}")
    speedup = results["superlite, batching (threads x16)"]["throughput"] / results["superlite, no batching (prefork)"]["throughput"]
    print(f"batching vs no batching (prefork, the default): {speedup:.2f}x throughput  (goal >= 3x)")


if __name__ == "__main__":
    main()
