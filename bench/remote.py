"""Benchmark remote predictions against a raw Celery task on the same broker and worker.

    python bench/remote.py [--broker redis://127.0.0.1:6379/0] [--calls 2000] [--concurrency 2] [--loglevel INFO]

Starts one ``superlite worker`` (through :func:`run_worker`, plus a bare ``bench.noop`` Celery
task registered in the same worker), then measures in the same run:

(a) sequential latency: ``RemoteModel.predict`` of a trivial model vs a raw no-op task round
    trip (``send_task(...).get()``), interleaved call by call; median and p99;
(b) throughput: 1000 predictions sent at once (``db.compute(..., wait=False)``) vs 1000 raw
    tasks, then all answers collected;
(c) ``predict_batches`` of 10,000 small inputs on the workers vs a local loop.

The raw task goes through the same Celery app (same broker, codec, queue and worker settings),
so the ratio isolates what superlite adds: resolving the reference through the worker's
uuid-keyed cache, the result envelope and the caller-side wrapper. One difference is not
processing: at INFO a superlite worker logs one line per task (id, time, size) once the result
is stored, where Celery logs its own, and silences Celery's line for every task it hosts, the raw
one included; ``--loglevel WARNING`` takes log lines out of both sides.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from celery import shared_task
from measure import percentile


@shared_task(name="bench.noop")
def noop(x: object) -> object:
    """A bare Celery task: returns its argument."""
    return x


def identity(x: object) -> object:
    """The trivial model."""
    return x


def serve(uri: str, broker: str, queue: str, concurrency: int, loglevel: str) -> int:
    """The worker subprocess: ``superlite worker`` with ``bench.noop`` registered too."""
    from superlite.compute.celery.worker import run_worker
    from superlite.config import Settings

    return run_worker(Settings(uri=uri, broker=broker), concurrency=concurrency, queues=[queue], loglevel=loglevel)


def start_worker(
    uri: str, broker: str, queue: str, concurrency: int, log: Path, loglevel: str = "INFO"
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, __file__, "--serve", uri, "--broker", broker, "--queue", queue,
        "--concurrency", str(concurrency), "--loglevel", loglevel,
    ]
    with open(log, "wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(app: object, queue: str, worker: subprocess.Popen[bytes], log: Path) -> None:
    """Return once the worker answers a no-op task (its log may be too quiet to say it is ready)."""
    try:
        app.send_task("bench.noop", args=(0,), queue=queue).get(timeout=60)  # type: ignore[attr-defined]
    except Exception as exc:
        worker.terminate()
        raise SystemExit(f"worker did not answer ({exc!r}):\n{log.read_text()}") from exc


def latency(model: object, app: object, queue: str, calls: int) -> tuple[list[float], list[float]]:
    ours: list[float] = []
    raw: list[float] = []
    for i in range(calls):
        start = time.perf_counter()
        model.predict(i)  # type: ignore[attr-defined]
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        app.send_task("bench.noop", args=(i,), queue=queue).get(timeout=60)  # type: ignore[attr-defined]
        raw.append(time.perf_counter() - start)
    return ours, raw


def throughput(db: object, reference: str, app: object, queue: str, count: int, rounds: int) -> tuple[float, float]:
    def ours() -> float:
        start = time.perf_counter()
        handles = [db.compute(reference, "predict", (i,), wait=False) for i in range(count)]  # type: ignore[attr-defined]
        for handle in handles:
            handle.result(120)
        return count / (time.perf_counter() - start)

    def raw() -> float:
        start = time.perf_counter()
        results = [app.send_task("bench.noop", args=(i,), queue=queue) for i in range(count)]  # type: ignore[attr-defined]
        for result in results:
            result.get(timeout=120)
        return count / (time.perf_counter() - start)

    measured: dict[str, list[float]] = {"ours": [], "raw": []}
    for round_ in range(rounds):  # alternate which goes first: the machine warms and cools
        order = (ours, raw) if round_ % 2 == 0 else (raw, ours)
        for run in order:
            measured[run.__name__].append(run())
    return statistics.median(measured["ours"]), statistics.median(measured["raw"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default=os.environ.get("SUPERLITE_BROKER", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--uri", help="database (default: a SQLite file in a temporary directory)")
    parser.add_argument("--calls", type=int, default=2000, help="sequential calls of each kind in (a)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes")
    parser.add_argument(
        "--loglevel", default="INFO", choices=["DEBUG", "INFO", "WARNING"],
        help="the worker's log level (at INFO superlite writes one line per task; at WARNING neither side logs tasks)",
    )
    parser.add_argument("--serve", metavar="URI", help=argparse.SUPPRESS)
    parser.add_argument("--queue", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        sys.exit(serve(args.serve, args.broker, args.queue, args.concurrency, args.loglevel))

    import superlite
    from superlite import ObjectModel
    from superlite.config import mask_uri

    with tempfile.TemporaryDirectory(prefix="superlite-bench-") as tmp:
        uri = args.uri or f"sqlite:///{tmp}/bench.db"
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        log = Path(tmp) / "worker.log"
        worker = start_worker(uri, args.broker, queue, args.concurrency, log, args.loglevel)
        try:
            with superlite.connect(uri, broker=args.broker, queue=queue, parallelism=args.concurrency * 4) as db:
                app = db.compute_backend.backend.app
                wait_ready(app, queue, worker, log)
                local = ObjectModel("bench-trivial", object=identity)
                model = db.load("model", db.apply(ObjectModel("bench-trivial", object=identity)).identifier)
                latency(model, app, queue, 100)  # warm-up: model cached, connections open

                ours, raw = latency(model, app, queue, args.calls)
                ours_tp, raw_tp = throughput(db, model.reference, app, queue, 1000, rounds=5)

                inputs = list(range(10_000))
                start = time.perf_counter()
                expected = [local.predict(x) for x in inputs]
                local_time = time.perf_counter() - start
                start = time.perf_counter()
                batched = model.predict_batches(inputs)
                batch_time = time.perf_counter() - start
                assert batched == expected
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)

    med_ours, med_raw = statistics.median(ours), statistics.median(raw)
    p99_ours, p99_raw = percentile(ours, 0.99), percentile(raw, 0.99)
    ms = 1000.0
    print(f"superlite remote benchmark: broker {mask_uri(args.broker)}, worker prefork x {args.concurrency} at {args.loglevel}, Python {sys.version.split()[0]}")
    print("baseline: raw Celery no-op task, same app, broker, codec, queue and worker")
    print(f"(a) sequential latency, {args.calls} calls each, interleaved")
    print(f"    raw celery   median {med_raw * ms:7.3f} ms   p99 {p99_raw * ms:7.3f} ms")
    print(f"    superlite    median {med_ours * ms:7.3f} ms   p99 {p99_ours * ms:7.3f} ms")
    print(f"    ratio        median {med_ours / med_raw:7.3f} x    p99 {p99_ours / p99_raw:7.3f} x   (target: median <= 1.10 x)")
    print("(b) throughput, 1000 sent at once then collected, median of 5 rounds (alternating order)")
    print(f"    raw celery   {raw_tp:8.0f} tasks/s")
    print(f"    superlite    {ours_tp:8.0f} predictions/s")
    print(f"    ratio        {ours_tp / raw_tp:7.3f} x")
    print(f"(c) predict_batches of {len(inputs)} small inputs, {db.compute_backend.parallelism} chunks")
    print(f"    local loop   {local_time * ms:9.2f} ms")
    print(f"    remote       {batch_time * ms:9.2f} ms")
    print(f"    ratio        {batch_time / local_time:9.1f} x  (remote / local: a trivial model is all transport)")


if __name__ == "__main__":
    main()
