"""Prometheus metrics of a ``superlite worker``: ``superlite worker --metrics-port P``.

The worker's main process serves ``http://<host>:P/metrics``; every pool process counts the tasks
it runs in prometheus-client's multiprocess mode (a fresh ``PROMETHEUS_MULTIPROC_DIR`` per
worker, removed at exit), so one scrape of the worker covers all its processes. Counting hooks
Celery's ``task_prerun``/``task_postrun`` signals, so the task code is untouched:

* ``superlite_worker_tasks_total{model,version,status}``: tasks run; ``status`` is ``success``
  or ``error`` (the model raised, or the task was refused: deadline passed, unknown method);
  ``version`` is empty when the caller pinned a bare uuid without its version.
* ``superlite_worker_task_duration_seconds{model,version,status}``: histogram of the time the
  task ran in the worker (load + compute; the queue wait is not in it).
* ``superlite_model_load_seconds``: histogram of the time each load into a pool process's model
  cache took (record, artifacts read and verified, model rebuilt).
* ``superlite_swaps_total{result}``: versions a follower loaded and warmed for the aliases it
  follows (``result="ready"``) or refused (``"failed"``, with the reason in ``superlite status``):
  the first phase of each hot swap, per pool process.

The API's ``superlite_request_duration_seconds`` includes the broker round trip and the queue;
the difference between the two is the time spent between the API and the worker.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
from typing import Any

from superlite.components.reference import parse_reference
from superlite.compute.celery.envelope import OK
from superlite.compute.celery.tasks import ServingListeners
from superlite.serialization.wire import PreEncoded

#: prometheus-client's variable naming the directory its multiprocess mode writes to.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


class WorkerMetrics:
    """Task counters of one worker (all its pool processes), exported on one port."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.tasks = Counter(
            "superlite_worker_tasks", "Tasks run by this worker.", ["model", "version", "status"], registry=self.registry
        )
        self.duration = Histogram(
            "superlite_worker_task_duration_seconds",
            "Seconds a task ran in the worker (load and compute, without the queue wait).",
            ["model", "version", "status"],
            registry=self.registry,
        )
        self.model_load = Histogram(
            "superlite_model_load_seconds", "Seconds each load into a model cache took.", registry=self.registry
        )
        self.swaps = Counter(
            "superlite_swaps", "Followed versions loaded and warmed (ready) or refused (failed).", ["result"],
            registry=self.registry,
        )
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def listeners(self) -> ServingListeners:
        """The hooks that feed :attr:`model_load` and :attr:`swaps` from each pool process."""
        return ServingListeners(
            model_loaded=lambda _uuid, seconds: self.model_load.observe(seconds),
            target_prepared=lambda _uuid, result: self.swaps.labels(result).inc(),
        )

    def task_started(self, task_id: str | None = None, **_: Any) -> None:
        """``task_prerun`` handler: note when the task started."""
        if task_id is not None:
            with self._lock:
                self._started[task_id] = time.perf_counter()

    def task_finished(self, task_id: str | None = None, args: Any = None, retval: Any = None, **_: Any) -> None:
        """``task_postrun`` handler: count the task with its model, version and outcome."""
        with self._lock:
            started = self._started.pop(task_id or "", None)
        if started is None or not args:
            return
        try:
            model = parse_reference(args[0]).identifier
        except Exception:
            return
        options = args[4] if len(args) > 4 and isinstance(args[4], dict) else {}
        version = "" if options.get("version") is None else str(options["version"])
        status = "success" if isinstance(retval, PreEncoded) and OK in retval.tree else "error"
        self.tasks.labels(model, version, status).inc()
        self.duration.labels(model, version, status).observe(time.perf_counter() - started)


def export_worker_metrics(port: int, host: str = "0.0.0.0") -> WorkerMetrics:
    """Switch this process to multiprocess metrics, serve them on ``port`` and count every task.

    Call it in the worker's main process before the pool starts (before prometheus-client is
    imported anywhere else in it), so that pool processes inherit the mode.
    """
    directory = tempfile.mkdtemp(prefix="superlite-worker-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    atexit.register(shutil.rmtree, directory, ignore_errors=True)

    from celery import signals
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    metrics = WorkerMetrics()
    scrape = CollectorRegistry()
    MultiProcessCollector(scrape)
    start_http_server(port, addr=host, registry=scrape)
    signals.task_prerun.connect(metrics.task_started, weak=False)
    signals.task_postrun.connect(metrics.task_finished, weak=False)
    return metrics
