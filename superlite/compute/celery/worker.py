"""``superlite worker``: a Celery worker that serves every model of one database.

Pool: **prefork** by default. Each pool process is a real OS process with its own model cache:
a model that crashes or leaks takes down one child (the parent starts another, and the task
is delivered again), CPU-bound Python models run in parallel despite the GIL, and SIGKILL of
the process running a prediction is a real process death that late acknowledgement survives.
The price is memory: the cache budget applies per process, so ``--concurrency 4 --cache-mb 1000``
may hold 4 GB of models. ``--pool threads`` shares one cache (one copy of each model) between
threads, which suits large models whose predictions release the GIL (numpy, torch).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from celery import signals

from superlite.common.memory import pin_mmap_threshold
from superlite.common.uris import mask_uri, uri_scheme
from superlite.compute.celery.app import (
    WORKER_RESULT_RETRIES,
    build_app,
    check_broker,
    queue_name,
    visibility_timeout,
)
from superlite.compute.celery.consumer import AnsweringConsumer
from superlite.compute.celery.tasks import FollowOptions, ServingListeners, WorkerState, register_task
from superlite.config import CacheOptions, Settings
from superlite.serialization.wire import CODEC

logger = logging.getLogger("superlite.worker")

#: Pools ``superlite worker`` offers (see the module docstring).
POOLS = ("prefork", "threads")

#: Default cache budget of each worker process, in MiB (the count default is the Datalayer's).
DEFAULT_CACHE_MB = 1024


def run_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    queues: Sequence[str] = (),
    cache_mb: float | None = DEFAULT_CACHE_MB,
    cache_items: int | None = CacheOptions.cache_items,
    loglevel: str = "INFO",
    pool: str = "prefork",
    paths: Sequence[str] = (),
    follow: FollowOptions | None = None,
    listeners: ServingListeners = ServingListeners(),
) -> int:
    """Serve the models of ``settings.uri`` to tasks from ``settings.broker`` until stopped.

    ``queues`` defaults to the settings' queue; ``cache_mb``/``cache_items`` bound each process's
    model cache (None: unbounded). ``paths`` and then the working directory go first on
    ``sys.path``, so model code of the project the worker runs in imports. Every serving
    process (each pool process with prefork) writes a heartbeat row and keeps ``follow``'s
    targets loaded and warm (see :mod:`superlite.compute.follower`), and reports loads and
    prepared targets to ``listeners``. Checks that the database
    and the broker answer before it starts, and returns the worker's exit code.
    """
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, not {pool!r}")
    imports = [*paths, os.getcwd()]
    add_import_paths(imports)
    pin_mmap_threshold()  # evicted models' memory goes back to the OS (superlite.common.memory)
    queues = list(queues) or [queue_name(settings)]
    follow = replace(follow or FollowOptions(), queues=tuple(queues))
    state = WorkerState(settings, cache_mb=cache_mb, cache_items=cache_items, follow=follow, listeners=listeners)
    state.datalayer()
    if pool == "prefork":
        state.close()
    app = build_app(settings)
    app.conf.worker_consumer = f"{AnsweringConsumer.__module__}:{AnsweringConsumer.__qualname__}"
    app.conf.result_backend_transport_options = {"retry_policy": WORKER_RESULT_RETRIES}
    check_broker(app)
    register_task(app, state)
    if pool != "prefork":
        state.start_follower()
    _connect_process_signals(state)
    worker = app.Worker(
        hostname=f"superlite-{os.getpid()}@{socket.gethostname()}",
        pool_cls=pool,
        concurrency=concurrency,
        queues=queues,
        loglevel=loglevel,
        # Mingle and gossip exchange state between workers at start and all along: a slower
        # start and broker chatter for features (revokes, events) superlite does not use.
        without_mingle=True,
        without_gossip=True,
        without_heartbeat=True,
    )
    logger.info("%s", startup_line(settings, queues, worker.concurrency, pool, cache_mb, cache_items))
    logger.info("superlite worker: model code imports from %s first", ", ".join(imports))
    if loglevel != "DEBUG":
        # Celery logs every task's return value at INFO; superlite logs ids, timings and sizes
        # there instead (superlite.compute.celery.tasks), and results only at DEBUG.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
    if follow.specs:
        logger.info("following %s (policy %s)", ", ".join(str(s) for s in follow.specs), follow.policy)
    try:
        worker.start()
    finally:
        if pool != "prefork":
            state.close()
    return int(worker.exitcode or 0)


def add_import_paths(directories: Sequence[str]) -> None:
    """Put ``directories`` first on ``sys.path``, in order, each once."""
    for directory in reversed([os.path.abspath(d) for d in directories]):
        if directory in sys.path:
            sys.path.remove(directory)
        sys.path.insert(0, directory)


def startup_line(
    settings: Settings, queues: Sequence[str], concurrency: int, pool: str, cache_mb: float | None, cache_items: int | None
) -> str:
    """The line a worker logs at start-up: where it reads, what it serves, what it may hold."""
    budget = "unbounded" if cache_mb is None else f"{cache_mb:g} MiB"
    count = "unbounded" if cache_items is None else f"{cache_items} models"
    per = "per process" if pool == "prefork" else "shared by the threads"
    redis = f", visibility timeout {visibility_timeout(settings):g} s" if uri_scheme(settings.broker or "").startswith("redis") else ""
    return (
        f"superlite worker: database {mask_uri(settings.uri)}, broker {mask_uri(settings.broker)}{redis}, "
        f"queues {', '.join(queues)}, pool {pool} x {concurrency}, model cache {budget} / {count} {per}, "
        f"wire types: {', '.join(CODEC.wire_types()) or '(built-in only)'}"
    )


def _connect_process_signals(state: WorkerState) -> None:
    def warm_up(**_: Any) -> None:
        try:
            state.datalayer()
            state.start_follower()
        except Exception as exc:
            logger.error("pool process %s could not open the database: %s", os.getpid(), exc)

    def shut_down(**_: Any) -> None:
        state.close()

    signals.worker_process_init.connect(warm_up, weak=False)
    signals.worker_process_shutdown.connect(shut_down, weak=False)
