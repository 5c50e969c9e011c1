"""Benchmark hot swaps: requests through an alias-following proxy while the alias moves.

    python bench/swap.py [--uri URI] [--broker redis://127.0.0.1:6379/0] [--size-mb 100]

Stores three versions of a model holding ``--size-mb`` MiB of random weights, starts two
``superlite worker`` processes (one pool process each) that follow ``model:<name>@production``,
and has 8 client threads predict through ``db.load(..., alias="production")`` proxies:

1. steady state, no move: the reference latencies;
2. ten moves (set, canary, promote, rollback), each followed by a second of traffic; every
   request is timed, failures counted;
3. one thread alternating an alias-following proxy and a pinned proxy of the same version
   (with the default ``alias_refresh``: the alias state reused until the change feed says it
   moved; then with ``alias_refresh=0``: the alias read at every call).

Prints total and failed requests, p50/p99 latency during swaps as a ratio of steady state,
the time from each move's call to the first answer from its new target, how long the moves
took (phase one: loading and warming 100 MB on each worker), and the alias-vs-pinned ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from measure import percentile

import superlite
from superlite import ObjectModel
from superlite.testing.workers import Worker, start_worker

CLIENTS = 8
ALIAS = "production"


class Weights:
    """A model of ``size`` random bytes that answers its name (so a client sees which version answered)."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.weights = os.urandom(size)

    def __call__(self, x: Any) -> list[Any]:
        return [self.name, x]


class Load:
    """Client threads predicting through an alias-following proxy; every request timed and recorded."""

    def __init__(self, connect: Callable[[], superlite.Datalayer], name: str) -> None:
        self.connect = connect
        self.name = name
        self.stop = threading.Event()
        self.records: list[tuple[float, float, str | None]] = []  # (start, latency, version or None: failed)
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client) for _ in range(CLIENTS)]

    def client(self) -> None:
        with self.connect() as db:
            proxy = db.load("model", self.name, alias=ALIAS)
            while not self.stop.is_set():
                start = time.perf_counter()
                try:
                    answer: str | None = proxy.predict(0)[0]
                except Exception as exc:  # noqa: BLE001 - counted as a failed request
                    answer = None
                    with self.lock:
                        self.errors.append(f"{type(exc).__name__}: {exc}")
                with self.lock:
                    self.records.append((start, time.perf_counter() - start, answer))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", help="database (default: a SQLite file in a temporary directory)")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--size-mb", type=float, default=100.0)
    parser.add_argument("--steady", type=float, default=5.0, help="seconds of steady-state traffic")
    parser.add_argument("--after-move", type=float, default=1.0, help="seconds of traffic after each move")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="superlite-swap-"))
    uri = args.uri or f"sqlite:///{directory / 'swap.db'}"
    queue = f"bench-swap-{uuid.uuid4().hex[:8]}"
    name = f"swap-{uuid.uuid4().hex[:8]}"

    def connect() -> superlite.Datalayer:
        return superlite.connect(uri, broker=args.broker, queue=queue, timeout=120)

    size = int(args.size_mb * 2**20)
    with connect() as db:
        started = time.perf_counter()
        for version in range(3):
            db.apply(ObjectModel(name, object=Weights(f"v{version}", size), warmup=[0]))
        print(f"stored 3 versions of {args.size_mb:g} MiB in {time.perf_counter() - started:.1f} s ({uri.split(':')[0]})")
        db.set_alias("model", name, ALIAS, version=0)

    follow = ("--concurrency", "1", "--follow", f"model:{name}@{ALIAS}", "--heartbeat", "0.5", "--poll", "0.1",
              "--release-after", "2", "--cache-mb", str(int(args.size_mb * 4)))
    workers: list[Worker] = [start_worker(uri, args.broker, queue, directory, *follow) for _ in range(2)]
    try:
        for worker in workers:
            worker.wait_ready()
        with connect() as db:
            while len(db.workers()) < 2 or any(len(w["loaded"]) < 1 for w in db.workers()):
                time.sleep(0.1)
            run(db, connect, name, args)
    finally:
        for worker in workers:
            worker.stop()
        shutil.rmtree(directory, ignore_errors=True)


def run(db: superlite.Datalayer, connect: Callable[[], superlite.Datalayer], name: str, args: argparse.Namespace) -> None:
    """The three phases; prints the figures."""
    moves: list[tuple[str, Callable[[], dict[str, object]]]] = [
        ("set 1", lambda: db.set_alias("model", name, ALIAS, version=1)),
        ("canary 2 50%", lambda: db.start_canary("model", name, ALIAS, version=2, percent=50)),
        ("promote", lambda: db.promote("model", name, ALIAS)),
        ("rollback", lambda: db.rollback("model", name, ALIAS)),
        ("set 0", lambda: db.set_alias("model", name, ALIAS, version=0)),
        ("canary 2 20%", lambda: db.start_canary("model", name, ALIAS, version=2, percent=20)),
        ("rollback", lambda: db.rollback("model", name, ALIAS)),
        ("canary 1 50%", lambda: db.start_canary("model", name, ALIAS, version=1, percent=50)),
        ("promote", lambda: db.promote("model", name, ALIAS)),
        ("rollback", lambda: db.rollback("model", name, ALIAS)),
    ]
    windows: list[tuple[float, float]] = []
    move_times: list[float] = []
    first_answers: list[tuple[str, float, str]] = []
    with Load(connect, name) as load:
        time.sleep(args.steady)
        steady_end = time.perf_counter()
        for label, move in moves:
            before = db.aliases("model", name)[ALIAS]
            start = time.perf_counter()
            after = move()
            end = time.perf_counter()
            move_times.append(end - start)
            time.sleep(args.after_move)
            windows.append((start, end + args.after_move))
            if after["version"] != before["version"]:
                first_answers.append((label, start, f"v{after['version']}"))
    records = load.records
    steady = [latency for started, latency, answer in records if started < steady_end and answer is not None]
    during = [
        latency for started, latency, answer in records
        if answer is not None and any(lo <= started <= hi for lo, hi in windows)
    ]
    failed = sum(answer is None for _, _, answer in records)
    print(f"requests: {len(records)} total, {failed} failed" + (f" (first: {load.errors[0]})" if load.errors else ""))
    p50, p99 = percentile(steady, 0.5), percentile(steady, 0.99)
    d50, d99 = percentile(during, 0.5), percentile(during, 0.99)
    print(f"steady state: p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms ({len(steady)} requests)")
    print(f"during swaps: p50 {d50 * 1000:.2f} ms ({d50 / p50:.2f}x), p99 {d99 * 1000:.2f} ms ({d99 / p99:.2f}x) ({len(during)} requests)")
    print(
        f"moves: {len(moves)}, each took (phase one: load + warm {args.size_mb:g} MiB on both workers) "
        f"median {statistics.median(move_times):.2f} s, max {max(move_times):.2f} s"
    )
    delays = []
    for label, start, version in first_answers:
        answered = [s + lat for s, lat, answer in records if answer == version and s >= start]
        if answered:
            delays.append(min(answered) - start)
    print(
        f"set_alias -> first answer from the new target ({len(delays)} target moves): median "
        f"{statistics.median(delays):.2f} s, max {max(delays):.2f} s (includes the move's phase one)"
    )
    overhead(db, name)


def overhead(db: superlite.Datalayer, name: str, calls: int = 400) -> None:
    """Sequential calls alternating an alias-following proxy and a pinned one (same version).

    Measured twice: with the default ``alias_refresh`` (the alias state reused until the change
    feed says it moved), and with ``alias_refresh=0`` (the alias read at every call).
    """
    pinned = db.load("model", name, version=db.aliases("model", name)[ALIAS]["version"])
    with superlite.connect(db.settings.uri, broker=db.settings.broker, queue=db.settings.celery.queue,
                           alias_refresh=0) as reading:
        default = f"alias_refresh={db.settings.swap.alias_refresh:g} s, the default"
        for label, owner in ((default, db), ("alias_refresh=0, read per call", reading)):
            following = owner.load("model", name, alias=ALIAS)
            timings: dict[str, list[float]] = {"alias": [], "pinned": []}
            for i in range(calls):
                pair = (("alias", following), ("pinned", pinned))
                for kind, proxy in pair if i % 2 else reversed(pair):
                    start = time.perf_counter()
                    proxy.predict(i)
                    timings[kind].append(time.perf_counter() - start)
            alias, pin = statistics.median(timings["alias"]), statistics.median(timings["pinned"])
            print(
                f"alias-following ({label}) vs pinned proxy: median {alias * 1000:.3f} ms vs {pin * 1000:.3f} ms "
                f"per request ({alias / pin:.3f}x), over {calls} calls each"
            )


if __name__ == "__main__":
    main()
