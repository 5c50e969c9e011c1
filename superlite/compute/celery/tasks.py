"""The worker's side: the one task, ``superlite.execute``, and the Datalayer it runs on.

Each worker process opens its own Datalayer once (after the fork, for the prefork pool) and
keeps it: a task resolves its reference through that Datalayer's uuid-keyed model cache, so a
warm model costs no database query, no artifact read and no Datalayer rebuild. The reference
pins a uuid, so the version that answers is exactly the one the caller asked for.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from celery import Celery, Task

from superlite.compute.celery.app import TASK_NAME
from superlite.compute.celery.envelope import ERROR, OK, TaskFailed, failure, success
from superlite.compute.celery.protocol import task_from_message
from superlite.compute.follower import HEARTBEAT_INTERVAL, POLL_INTERVAL, RELEASE_AFTER, Follower
from superlite.config import CacheOptions, Settings
from superlite.datalayer import Datalayer, open_datalayer
from superlite.errors import SerializationError, StoredClassImportError
from superlite.registry.follow import FollowSpec, VersionPolicy
from superlite.serialization.wire import CODEC, PreEncoded

logger = logging.getLogger("superlite.worker")


@dataclass(frozen=True)
class FollowOptions:
    """What a worker keeps loaded and how it reports (``superlite worker --follow/--policy/...``)."""

    specs: Sequence[FollowSpec] = ()
    policy: VersionPolicy = VersionPolicy()
    queues: Sequence[str] = ()
    poll_interval: float = POLL_INTERVAL
    heartbeat_interval: float = HEARTBEAT_INTERVAL
    release_after: float = RELEASE_AFTER


@dataclass(frozen=True)
class ServingListeners:
    """What a serving process reports as it happens (``superlite worker --metrics-port`` counts it).

    ``model_loaded(uuid, seconds)`` runs after each load into the process's model cache;
    ``target_prepared(uuid, result)`` after its follower loaded and warmed a followed version
    (``"ready"``) or refused it (``"failed"``): the first phase of a hot swap.
    """

    model_loaded: Callable[[str, float], None] | None = None
    target_prepared: Callable[[str, str], None] | None = None


class WorkerState:
    """The worker process's own Datalayer (in-process compute), opened once per process.

    ``cache_mb`` and ``cache_items`` bound its model cache (None: no bound). With ``follow``,
    :meth:`start_follower` runs a :class:`~superlite.compute.follower.Follower` in the process:
    its heartbeat row, and the models it keeps loaded. ``listeners`` are attached to the cache
    and the follower of each process.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        cache_mb: float | None,
        cache_items: int | None,
        follow: FollowOptions | None = None,
        listeners: ServingListeners = ServingListeners(),
    ) -> None:
        self.settings = replace(settings, broker=None, cache=CacheOptions(cache_mb=cache_mb, cache_items=cache_items))
        self.follow = follow
        self.listeners = listeners
        self._db: Datalayer | None = None
        self._pid: int | None = None
        self._follower: Follower | None = None
        self._lock = threading.Lock()

    def datalayer(self) -> Datalayer:
        """This process's Datalayer, opened on first use (and again in a forked child)."""
        db = self._db
        if db is not None and self._pid == os.getpid():
            return db
        with self._lock:
            if self._db is None or self._pid != os.getpid():
                self._db = open_datalayer(self.settings)
                self._pid = os.getpid()
                if self.listeners.model_loaded is not None:
                    self._db.executor.models.load_listeners.append(self.listeners.model_loaded)
                # What the process holds now (Celery, SQLAlchemy, the Datalayer) lives as long as it
                # does: out of the collector's sight, a full collection takes a few ms instead of
                # the 100-170 ms that stalled one task in ten on a listener back-fill.
                gc.freeze()
            return self._db

    def start_follower(self) -> None:
        """Start this process's follower (heartbeat and followed models), if configured and not running."""
        if self.follow is None or self._follower is not None:
            return
        options = self.follow
        follower = Follower(
            self.datalayer(), options.specs, options.policy, queues=options.queues,
            poll_interval=options.poll_interval, heartbeat_interval=options.heartbeat_interval,
            release_after=options.release_after,
        )
        if self.listeners.target_prepared is not None:
            follower.prepare_listeners.append(self.listeners.target_prepared)
        follower.start()
        self._follower = follower

    def close(self) -> None:
        """Stop the follower and close this process's Datalayer, if it opened them."""
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None
            self._pid = None

    def run(
        self,
        reference: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any],
        options: dict[str, Any] | None,
        task_id: str | None = None,
    ) -> PreEncoded:
        """Run one task and return its envelope (the result, or what went wrong), encoded already.

        The envelope is one :class:`PreEncoded` tree, so Celery handles (and takes the repr of)
        a single object, never the result's own containers. A failure is logged here, at
        WARNING; a success by :func:`log_success` once its result is stored, so that the
        caller's answer never waits for the log line.
        """
        try:
            task = task_from_message(reference, method, args, kwargs, options)
            result = self.datalayer().executor.execute(task)
            tree = CODEC.to_json_value(result)
        except Exception as exc:
            exc = with_import_hint(exc)
            logger.warning("task %s: %s of %s failed: %s: %s", task_id, method, reference, type(exc).__name__, exc)
            return PreEncoded(failure(exc))
        return PreEncoded(success(tree))


def log_success(task_id: str, reference: str, method: str, seconds: float, envelope: PreEncoded) -> None:
    """Log a finished task: its id, reference and time taken and the result's size at INFO, the result at DEBUG."""
    if not logger.isEnabledFor(logging.INFO) or OK not in envelope.tree:
        return
    tree = envelope.tree[OK]
    size = len(json.dumps(tree, separators=(",", ":")))
    logger.info("task %s: %s of %s done in %.1f ms, result %d bytes", task_id, method, reference, seconds * 1000, size)
    logger.debug("task %s result: %r", task_id, tree)


def with_import_hint(exc: Exception) -> Exception:
    """``exc`` with where this worker imports code from, if stored code failed to import here."""
    hint = (
        f"This worker imports model code from {os.getcwd()} (the directory it was started in) and from "
        f"each --path DIR it was given: start it in the project directory, or pass --path DIR."
    )
    if isinstance(exc, StoredClassImportError):
        hinted: Exception = StoredClassImportError(exc.class_path, exc.name or "", exc.reason, hint=hint)
    elif isinstance(exc, SerializationError) and isinstance(exc.__cause__, ImportError):
        hinted = SerializationError(f"{exc} {hint}")
    else:
        return exc
    hinted.__cause__ = exc.__cause__
    hinted.__traceback__ = exc.__traceback__
    return hinted


#: The attribute of a task's request that holds the seconds it took to run (resolve, predict, encode).
ELAPSED = "superlite_elapsed"


class ExecuteTask(Task):  # type: ignore[misc]
    """The class of ``superlite.execute``: logs each success after Celery has stored its result.

    Celery calls :meth:`on_success` once the result is on its way to the caller (where it logs
    its own per-task line), so the answer does not wait for the log line.
    """

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        """Log the finished task (see :func:`log_success`)."""
        elapsed = getattr(self.request, ELAPSED, None)
        if elapsed is not None and len(args) >= 2:
            log_success(task_id, args[0], args[1], elapsed, retval)


def register_task(app: Celery, state: WorkerState) -> Any:
    """Register ``superlite.execute`` on ``app``, running on ``state``'s Datalayer."""

    @app.task(name=TASK_NAME, shared=False, bind=True, base=ExecuteTask, throws=(TaskFailed,))
    def execute(
        self: Any,
        reference: str, method: str, args: list[Any], kwargs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> PreEncoded:
        """Run ``method(*args, **kwargs)`` of the model ``reference`` pins; return its envelope.

        A failure raises :class:`TaskFailed`, so Celery records the task as failed.
        """
        request = self.request
        started = time.perf_counter()
        envelope = state.run(reference, method, args, kwargs, options, task_id=request.id)
        setattr(request, ELAPSED, time.perf_counter() - started)
        if ERROR in envelope.tree:
            raise TaskFailed(envelope.tree[ERROR])
        return envelope

    return execute
