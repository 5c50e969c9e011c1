"""Where a remote prediction's round trip goes, phase by phase, against a raw Celery no-op task.

    python bench/remote_phases.py [--broker redis://127.0.0.1:6379/0] [--calls 1500] [--loglevel WARNING]

Starts the worker of ``bench/remote.py`` (``superlite worker`` plus ``bench.noop``) with hooks
that note the wall-clock time (one clock: caller and worker run on this machine) when the
worker's main process receives a task, when a pool process starts it, when the result store
begins and ends, and when the pool process is done with it (``on_success``, log line). The
caller interleaves ``db.compute(reference, "predict", (i,))`` (what ``RemoteModel.predict`` runs)
and a raw ``send_task(...).get()`` call by call and prints each phase's median for both kinds:

    send            the caller, until the task is published
    broker->parent  until the worker's main process has the message
    parent->child   until a pool process starts the task (message shipped over the pool's pipe)
    child           task body, the result encoded, Celery's read of the result key
    store           writing and publishing the result
    stored->caller  until the caller has the answer
    after store     what the pool process still does once the result is out

Every process on the path has slept for most of the ~2 ms between two calls, and on a small
VM code run just after a wake-up is several times slower than the same code in a hot loop (a
step timed at a few us in a loop costs tens of us here), so a phase's extra time is usually a
multiple of what a micro-benchmark of the extra code shows.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import remote

#: Phases as (name, from mark, to mark); "sent" and "answered" are the caller's marks.
PHASES = (
    ("send", "begin", "sent"),
    ("broker->parent", "sent", "received"),
    ("parent->child", "received", "started"),
    ("child", "started", "storing"),
    ("store", "storing", "stored"),
    ("stored->caller", "stored", "answered"),
    ("total", "begin", "answered"),
    ("after store", "stored", "finished"),
)


def serve(uri: str, broker: str, queue: str, concurrency: int, loglevel: str, marks_file: str) -> int:
    """The worker of ``bench/remote.py`` with timing hooks; each process writes its marks at exit."""
    from celery import signals
    from celery.backends.redis import RedisBackend
    from kombu.utils.encoding import bytes_to_str

    marks: dict[str, dict[str, float]] = {}

    def mark(task_id: str, name: str) -> None:
        marks.setdefault(task_id, {})[name] = time.time()

    def dump(**_: Any) -> None:
        with open(f"{marks_file}-{os.getpid()}.json", "w") as out:
            json.dump(marks, out)

    store = RedisBackend.set

    def timed_set(self: RedisBackend, key: Any, value: Any, **options: Any) -> Any:
        task_id = bytes_to_str(key).rpartition(bytes_to_str(self.task_keyprefix))[2]
        mark(task_id, "storing")
        try:
            return store(self, key, value, **options)
        finally:
            mark(task_id, "stored")

    RedisBackend.set = timed_set  # type: ignore[method-assign]
    signals.task_received.connect(lambda request, **_: mark(request.id, "received"), weak=False)
    signals.task_prerun.connect(lambda task_id, **_: mark(task_id, "started"), weak=False)
    signals.task_postrun.connect(lambda task_id, **_: mark(task_id, "finished"), weak=False)
    signals.worker_process_shutdown.connect(dump, weak=False)
    signals.worker_shutdown.connect(dump, weak=False)
    return remote.serve(uri, broker, queue, concurrency, loglevel)


def drive(db: Any, model: Any, app: Any, queue: str, calls: int) -> dict[str, dict[str, dict[str, float]]]:
    """Interleaved calls of both kinds; the caller's marks of each task, by kind and task id."""
    from superlite.compute.celery.compute import CeleryResult

    sent: dict[str, float] = {}
    submit = CeleryResult.__init__

    def note_sent(self: CeleryResult, *args: Any) -> None:  # the handle exists once the task is published
        submit(self, *args)
        sent["ours"] = time.time()

    CeleryResult.__init__ = note_sent  # type: ignore[method-assign]
    caller: dict[str, dict[str, dict[str, float]]] = {"raw": {}, "superlite": {}}
    for i in range(calls):
        begin = time.time()
        handle = db.compute(model.reference, "predict", (i,), wait=False)
        handle.result(60)
        caller["superlite"][handle.task_id] = {"begin": begin, "sent": sent["ours"], "answered": time.time()}
        begin = time.time()
        result = app.send_task("bench.noop", args=(i,), queue=queue)
        published = time.time()
        result.get(timeout=60)
        caller["raw"][result.id] = {"begin": begin, "sent": published, "answered": time.time()}
    CeleryResult.__init__ = submit  # type: ignore[method-assign]
    return caller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default=os.environ.get("SUPERLITE_BROKER", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--calls", type=int, default=1500, help="sequential calls of each kind")
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes")
    parser.add_argument("--loglevel", default="WARNING", choices=["DEBUG", "INFO", "WARNING"])
    parser.add_argument("--serve", nargs=3, metavar=("URI", "QUEUE", "MARKS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        uri, queue, marks_file = args.serve
        sys.exit(serve(uri, args.broker, queue, args.concurrency, args.loglevel, marks_file))

    import superlite
    from superlite import ObjectModel

    with tempfile.TemporaryDirectory(prefix="superlite-bench-") as tmp:
        uri, queue, marks_file = f"sqlite:///{tmp}/bench.db", f"bench-{uuid.uuid4().hex[:8]}", f"{tmp}/marks"
        log = Path(tmp) / "worker.log"
        command = [
            sys.executable, __file__, "--serve", uri, queue, marks_file, "--broker", args.broker,
            "--concurrency", str(args.concurrency), "--loglevel", args.loglevel,
        ]
        with open(log, "wb") as out:
            worker = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            with superlite.connect(uri, broker=args.broker, queue=queue, parallelism=args.concurrency * 4) as db:
                app = db.compute_backend.backend.app
                remote.wait_ready(app, queue, worker, log)
                model = db.load("model", db.apply(ObjectModel("bench-trivial", object=remote.identity)).identifier)
                drive(db, model, app, queue, 100)  # warm-up
                caller = drive(db, model, app, queue, args.calls)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        worker_marks: dict[str, dict[str, float]] = {}
        for path in glob.glob(f"{marks_file}-*.json"):
            for task_id, marks in json.loads(Path(path).read_text()).items():
                worker_marks.setdefault(task_id, {}).update(marks)

    print(f"remote round trip by phase: {args.calls} calls of each kind, interleaved, worker prefork x {args.concurrency} at {args.loglevel}")
    print(f"    {'phase':16s} {'raw celery':>11s} {'superlite':>11s} {'difference':>11s}   (medians, us)")
    medians: dict[str, dict[str, float]] = {}
    for kind, tasks in caller.items():
        for name, start, end in PHASES:
            spans = [
                (marks[end] - marks[start]) * 1e6
                for task_id, own in tasks.items()
                if all(m in (marks := {**own, **worker_marks.get(task_id, {})}) for m in (start, end))
            ]
            medians.setdefault(name, {})[kind] = statistics.median(spans) if spans else float("nan")
    for name, by_kind in medians.items():
        raw, ours = by_kind["raw"], by_kind["superlite"]
        print(f"    {name:16s} {raw:11.1f} {ours:11.1f} {ours - raw:+11.1f}")


if __name__ == "__main__":
    main()
