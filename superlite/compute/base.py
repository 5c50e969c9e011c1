"""The compute interface: run one method of one stored component, somewhere.

Every backend takes the same request, a :class:`Task`: a component reference pinned to a uuid
(``&:component:model:<identifier>:<uuid>``), a method name, its arguments, and
:class:`TaskOptions` saying how to run it (priority, queue, deadline, request id, routing key).
It returns a :class:`ResultHandle`. :meth:`superlite.datalayer.Datalayer.compute` is the one
dispatch path in front of it: it resolves what the caller named to a uuid, builds the task and
submits it to a stack of :class:`ComputeWrapper` objects around the backend (see
:mod:`superlite.compute.pipeline`).
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import itertools
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from superlite.components.model import PRIORITIES as MODEL_PRIORITIES
from superlite.components.reference import Resolved
from superlite.errors import ConfigurationError

#: How often :meth:`ResultHandle.aresult` looks for the answer at first, and at most (seconds).
ASYNC_POLL_FIRST, ASYNC_POLL_MAX = 0.001, 0.05

#: The priorities a task may have (None: the backend's default, which is normal).
PRIORITIES = (None, *MODEL_PRIORITIES)


class _RequestIds:
    """Request ids unique across processes and cheaper than a uuid4 per call (no system call).

    A random prefix per process (drawn again in a forked child), then a counter: 32 hex digits.
    """

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._prefix = os.urandom(10).hex()
        self._counter = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):012x}"


#: A new request id: ``new_request_id()``.
new_request_id = _RequestIds()


@dataclass(frozen=True)
class TaskOptions:
    """How to run a task, not what to run.

    ``priority``: ``"high"``, ``"normal"`` or ``"low"`` (backends that cannot order work ignore
    it). ``queue``: the queue to send to (default: the backend's). ``deadline``: a
    :func:`time.time` after which the answer is no longer wanted, so a worker that picks the task
    up later skips it. ``request_id``: a caller's id, echoed in logs and errors. ``routing_key``:
    the value that keeps routing sticky (the same key, the same version, during a canary split).
    """

    priority: str | None = None
    queue: str | None = None
    deadline: float | None = None
    request_id: str = field(default_factory=new_request_id)
    routing_key: str | None = None

    def __post_init__(self) -> None:
        if self.priority not in PRIORITIES:
            raise ConfigurationError(f"priority must be one of {', '.join(map(repr, PRIORITIES))}, not {self.priority!r}")

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds left before the deadline (None without one; may be negative)."""
        return None if self.deadline is None else self.deadline - (time.time() if now is None else now)


class _computed_once:  # noqa: N801 - used as a decorator, like functools.cached_property
    """``functools.cached_property`` without its lock, which Python 3.11 holds across every
    instance of the class: each call would take it. Two threads may both compute the value once;
    they compute equal values, and the instance keeps one.
    """

    def __init__(self, compute: Any) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


@dataclass(frozen=True)
class Task:
    """One call to run: ``method(*args, **kwargs)`` on the component ``target`` resolved to.

    ``target`` pins a uuid, so whoever runs the task runs exactly the version the caller
    resolved. The arguments are encoded for the broker at most once (:attr:`encoded`), and
    :attr:`input_digest` identifies them for caches.
    """

    target: Resolved
    method: str
    args: Sequence[object] = ()
    kwargs: Mapping[str, object] = field(default_factory=dict)
    options: TaskOptions = field(default_factory=TaskOptions)

    def __post_init__(self) -> None:
        if self.method.startswith("_"):
            raise ConfigurationError(
                f"refusing to call private method {self.method!r} of {self.target.reference}: only a "
                f"component's servable methods (such as predict) can be called"
            )

    @property
    def reference(self) -> str:
        """The reference string of the version this task runs."""
        return self.target.reference

    @_computed_once
    def encoded(self) -> list[Any]:
        """``[args, kwargs]`` as the broker codec's JSON tree (computed once, on first use)."""
        from superlite.serialization.wire import CODEC

        return [CODEC.to_json_value(list(self.args)), CODEC.to_json_value(dict(self.kwargs))]

    @_computed_once
    def input_digest(self) -> str:
        """SHA-256 of the method and its encoded arguments: equal inputs, equal digests."""
        text = json.dumps([self.method, self.encoded], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


class ResultHandle(abc.ABC):
    """The pending result of a submitted :class:`Task`.

    ``task.target`` says which version answers (its uuid and version number).
    """

    task: Task

    @abc.abstractmethod
    def result(self, timeout: float | None = None) -> object:
        """Wait for and return the result; re-raise the model's error as ``RemoteError``."""

    @abc.abstractmethod
    def done(self) -> bool:
        """Whether the result is ready (without waiting)."""

    @property
    def answered_by(self) -> Resolved:
        """The version that answers this call."""
        return self.task.target

    async def aresult(self, timeout: float | None = None) -> object:
        """Await the result without blocking the event loop (and without a thread per waiting call).

        This default polls :meth:`done` with a growing interval; backends with a native way to
        be notified override it.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = ASYNC_POLL_FIRST
        while not self.done():
            if deadline is not None and time.monotonic() >= deadline:
                break
            await asyncio.sleep(interval)
            interval = min(interval * 2, ASYNC_POLL_MAX)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self.result(remaining)


class Compute(abc.ABC):
    """A place that runs :class:`Task` objects and hands back their results."""

    #: Short name shown by ``repr(db)`` and the CLI (``"local"``, ``"celery"``).
    name: str

    #: How many tasks can usefully run at once; ``predict_batches`` splits into this many chunks.
    parallelism: int = 1

    @abc.abstractmethod
    def submit(self, task: Task) -> ResultHandle:
        """Start ``task`` and return at once."""

    def submit_many(self, tasks: Sequence[Task]) -> list[ResultHandle]:
        """Start several tasks; backends may override to send them in one go."""
        return [self.submit(task) for task in tasks]

    async def asubmit(self, task: Task) -> ResultHandle:
        """Start ``task`` from a coroutine; await the handle's :meth:`~ResultHandle.aresult` for the answer."""
        return self.submit(task)

    def close(self) -> None:
        """Stop threads and release connections. Calling it twice is harmless."""


class ComputeWrapper(Compute):
    """A :class:`Compute` around another one: a result cache, a router or metrics is one of these.

    Everything passes through to ``inner`` unless a subclass overrides it, the way httpx stacks
    transports: each wrapper does one thing, and :func:`~superlite.compute.pipeline.open_compute`
    stacks them. A wrapper overrides :meth:`submit_many` alone: :meth:`submit` and
    :meth:`asubmit` go through it, so no path can skip the wrapper. A wrapper that leaves most
    tasks alone also says which it acts on (:meth:`acts_on`): :meth:`submit` passes the others
    straight to ``inner``, so a call pays nothing for wrappers that do nothing to it.
    """

    def __init__(self, inner: Compute) -> None:
        self.inner = inner

    @property
    def name(self) -> str:  # type: ignore[override]
        """The backend's name."""
        return self.inner.name

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        """The backend's parallelism."""
        return self.inner.parallelism

    @property
    def backend(self) -> Compute:
        """The backend at the bottom of the stack."""
        inner = self.inner
        return inner.backend if isinstance(inner, ComputeWrapper) else inner

    def acts_on(self, task: Task) -> bool:
        """Whether this wrapper does anything to ``task`` (True unless a subclass knows better)."""
        return True

    def submit(self, task: Task) -> ResultHandle:
        """Submit one task through :meth:`submit_many`, or straight to ``inner`` if not :meth:`acts_on` it."""
        if not self.acts_on(task):
            return self.inner.submit(task)
        return self.submit_many([task])[0]

    def submit_many(self, tasks: Sequence[Task]) -> list[ResultHandle]:
        """Pass the tasks on (the one method a wrapper overrides)."""
        return self.inner.submit_many(tasks)

    def close(self) -> None:
        """Close the inner compute."""
        self.inner.close()
