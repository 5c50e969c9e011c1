"""The executor: where a task finally runs, in this process, on a model from a uuid-keyed cache.

In-process compute and every Celery worker use the same :class:`Executor`, so a prediction
behaves the same wherever it runs: the same allow-list of servable methods, the same identity
check of the reference against the stored record, the same deadline check, the same cache.

Calls that a running model makes to other models (a pipeline's steps, an ensemble's members)
are *nested*: :func:`executing` tells compute backends that the current thread is inside a
task, so in-process compute runs them inline instead of queueing them behind their parent on
the same thread pool (where a full pool would wait for itself for ever), and
:func:`running_options` lets them inherit the parent's options.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from functools import partial
from typing import Any

from superlite.components.component import Component
from superlite.components.remote import RemoteModel
from superlite.compute.base import Task, TaskOptions
from superlite.compute.batching import Batchers
from superlite.compute.cache import ModelCache, measure_size
from superlite.config import CacheOptions
from superlite.errors import ComputeError, NotFoundError

#: ``(options, host)`` of the task the current thread runs: one variable, set once per task.
_RUNNING: ContextVar[tuple[TaskOptions, Any] | None] = ContextVar("superlite_running", default=None)


def executing() -> bool:
    """Whether the current thread is running a task (so a compute call from here is nested)."""
    return _RUNNING.get() is not None


def running_options() -> TaskOptions | None:
    """The options of the task the current thread runs (None outside a task).

    A nested call inherits them (see :meth:`superlite.datalayer.Datalayer.compute`): a
    composite's children keep the caller's routing key, priority, deadline and request id.
    """
    running = _RUNNING.get()
    return None if running is None else running[0]


def running_host() -> Any:
    """The object hosting the executor that runs the current task (its Datalayer), or None.

    For components whose servable methods work on the database themselves (a listener's
    back-fill of a range of rows on a worker): they reach it through the Datalayer that runs them.
    """
    running = _RUNNING.get()
    return None if running is None else running[1]


class Executor:
    """Runs tasks in this process on models loaded through ``load(uuid) -> (component, size)``.

    Loaded models stay in :attr:`models`, an LRU cache bounded by ``options``. A loaded
    composite's children are proxies (handles to other cache entries), so they are not counted
    in its size. ``predict`` and ``predict_batches`` calls of a model that declares ``batching``
    go through its micro-batcher in :attr:`batchers` (see :mod:`superlite.compute.batching`).
    ``host`` (the Datalayer owning this executor) is what :func:`running_host` returns inside a task.
    """

    def __init__(self, load: Callable[[str], tuple[Component, int]], options: CacheOptions, host: Any = None) -> None:
        self.models: ModelCache[Component] = ModelCache(
            load,
            max_bytes=None if options.cache_mb is None else int(options.cache_mb * 2**20),
            max_items=options.cache_items,
            measure=partial(measure_size, stop_types=(RemoteModel,)),
        )
        self.batchers = Batchers(_run_batch)
        self._running: dict[str, int] = {}
        self._last_done: dict[str, float] = {}
        self._activity = threading.Lock()
        self.host = host

    def execute(self, task: Task) -> Any:
        """Run ``task`` here and return what the method returned (its exception propagates).

        Refuses, before running anything, a method the component does not declare servable (a
        :class:`Task` already refused private ones), a reference whose type or identifier differ
        from the stored record's, and a task whose deadline has passed.
        """
        remaining = task.options.remaining()
        if remaining is not None and remaining < 0:
            raise ComputeError(
                f"request {task.options.request_id} for {task.method} of {task.reference} reached the executor "
                f"{-remaining:.3f} s after its deadline; it was not run"
            )
        model = self.models.get(task.target.uuid)
        self._check_identity(model, task)
        if task.method not in model.servable_methods:
            allowed = ", ".join(sorted(model.servable_methods)) or "(none)"
            raise ComputeError(
                f"{task.method!r} is not a servable method of {model.type_id} {model.identifier!r}; servable: {allowed}"
            )
        check_call = getattr(model, "check_call", None)
        if check_call is not None:
            check_call(task.method, task.args)
        uuid = task.target.uuid
        with self._activity:
            self._running[uuid] = self._running.get(uuid, 0) + 1
        token = _RUNNING.set((task.options, self.host))
        try:
            if _batchable(model, task):
                batcher = self.batchers.get(uuid, model)
                return batcher.predict(task.args[0]) if task.method == "predict" else batcher.predict_many(task.args[0])
            return getattr(model, task.method)(*task.args, **task.kwargs)
        finally:
            _RUNNING.reset(token)
            with self._activity:
                left = self._running.pop(uuid) - 1
                if left:
                    self._running[uuid] = left
                self._last_done[uuid] = time.monotonic()

    def idle_for(self, uuid: str) -> float | None:
        """Seconds since the last call on ``uuid`` ended: None while one runs, infinity if none ran."""
        with self._activity:
            if uuid in self._running:
                return None
            done = self._last_done.get(uuid)
        return float("inf") if done is None else time.monotonic() - done

    @staticmethod
    def _check_identity(model: Component, task: Task) -> None:
        target = task.target
        if (model.type_id, model.identifier) != (target.type_id, target.identifier):
            raise NotFoundError(
                f"uuid {target.uuid} is {model.type_id} {model.identifier!r}, not {target.type_id} "
                f"{target.identifier!r}: the reference {task.reference} is inconsistent"
            )

    def discard(self, uuid: str) -> None:
        """Forget the loaded model of ``uuid`` (after a removal, or once no longer followed)."""
        self.models.discard(uuid)
        self.batchers.discard(uuid)
        with self._activity:
            self._last_done.pop(uuid, None)

    def close(self) -> None:
        """Drop every loaded model and stop their batchers."""
        self.batchers.close()
        self.models.clear()


def _batchable(model: Component, task: Task) -> bool:
    """Whether ``task`` goes through the micro-batcher: ``predict(x)``, or ``predict_batches`` of a
    list, of a model that declares ``batching``, without keyword options."""
    if not getattr(model, "batching", None) or len(task.args) != 1 or task.kwargs:
        return False
    return task.method == "predict" or (task.method == "predict_batches" and isinstance(task.args[0], (list, tuple)))


def _run_batch(model: Any, inputs: list[Any]) -> Any:
    """One micro-batch: ``model.predict_batches(inputs)``, as a task (nested calls run inline)."""
    token = _RUNNING.set((TaskOptions(), None))
    try:
        return model.predict_batches(inputs)
    finally:
        _RUNNING.reset(token)
