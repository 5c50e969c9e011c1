"""Batching on the caller: concurrent ``predict`` calls of one model leave the process as one task.

With a broker, every call pays for a round trip (publish, the worker's bookkeeping, storing and
reading the result) whatever the model does: several milliseconds of CPU per call on a small
machine, on the caller and the worker alike (``docs/serving.md``). A worker's micro-batcher
saves model time but not that. For a model that declares ``batching=Batching(...)``,
:class:`CallBatching` also saves the round trips: a ``predict(x)`` leaves at once while fewer
than ``max_in_flight`` tasks of that model are in flight from this process; otherwise it is held
until one of them is answered, and then the calls held meanwhile (up to the model's
``max_size``) leave together as one ``predict_batches`` task. Each caller gets its own answer.

It adds no wait of its own: a lone call leaves at once, as the same ``predict`` task it would
be without batching, and batches grow only when traffic outgrows the tasks in flight. On the
worker, the model's micro-batcher merges these batches with the others it has in hand
(:mod:`superlite.compute.batching`) without waiting ``max_wait_ms`` for more: their calls
waited here already.

Calls are grouped by version (uuid), priority and queue. A batch's task carries the latest
deadline of its calls (none if one of them has none), so a worker skips it only when no caller
wants it any more; a caller whose own timeout passes first gets its timeout error while the
others still get their answers. If the batch fails, every call in it gets the error. Answers
are collected by a few threads of this wrapper, one per batch in flight, so a waiting caller
(sync or asyncio) holds no thread of its own.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from superlite.components.batching import Batching
from superlite.compute.base import Compute, ComputeWrapper, ResultHandle, Task, TaskOptions
from superlite.errors import ComputeError

#: ``policy(uuid) -> Batching`` for a version that declares batching, else None.
BatchingPolicy = Callable[[str], "Batching | None"]

_STOP = object()


class BatchedCall(ResultHandle):
    """The answer of one ``predict`` call that leaves (or left) in a batch."""

    def __init__(self, task: Task, future: Future[Any]) -> None:
        self.task = task
        self._future = future

    def result(self, timeout: float | None = None) -> object:
        """Wait for this call's answer; a timeout is a :class:`ComputeError`, the batch's error is raised."""
        try:
            return self._future.result(timeout)
        except FutureTimeout:
            raise self._timeout(timeout) from None

    def done(self) -> bool:
        """Whether the answer (or the batch's error) is here."""
        return self._future.done()

    async def aresult(self, timeout: float | None = None) -> object:
        """Await this call's answer without a thread of its own."""
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._future)), timeout)
        except asyncio.TimeoutError:
            raise self._timeout(timeout) from None

    def _timeout(self, timeout: float | None) -> ComputeError:
        return ComputeError(
            f"no answer to request {self.task.options.request_id} (predict of {self.task.reference}, sent in a "
            f"batch) within {timeout:g} s; are workers running and consuming the queue? `superlite status` shows them"
        )


@dataclass
class _Batch:
    """Held calls leaving together: their tasks and the futures their callers wait on."""

    key: tuple[str, str | None, str | None]
    tasks: list[Task] = field(default_factory=list)
    futures: list[Future[Any]] = field(default_factory=list)

    def task(self) -> Task:
        """The task that answers them all: the call itself if alone, else ``predict_batches`` of their inputs."""
        first = self.tasks[0]
        if len(self.tasks) == 1:
            return first
        deadlines = [task.options.deadline for task in self.tasks]
        options = TaskOptions(
            priority=first.options.priority,
            queue=first.options.queue,
            deadline=None if None in deadlines else max(d for d in deadlines if d is not None),
        )
        return Task(first.target, "predict_batches", ([task.args[0] for task in self.tasks],), {}, options)

    def settle(self, handle: ResultHandle) -> None:
        """Wait for ``handle`` (this batch's task) and give each caller its answer, or the error."""
        try:
            remaining = handle.task.options.remaining()
            answer = handle.result(None if remaining is None else max(0.0, remaining))
            outputs = [answer] if len(self.tasks) == 1 else list(answer)  # type: ignore[call-overload]
            if len(outputs) != len(self.tasks):
                raise ComputeError(
                    f"predict_batches of {handle.task.reference} returned {len(outputs)} outputs "
                    f"for {len(self.tasks)} inputs"
                )
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets the batch's error
            self.fail(exc)
            return
        for future, output in zip(self.futures, outputs):
            _settle(future.set_result, output)

    def fail(self, exc: BaseException) -> None:
        """Give every caller of the batch ``exc``."""
        for future in self.futures:
            _settle(future.set_exception, exc)


def _settle(setter: Callable[[Any], None], value: Any) -> None:
    try:
        setter(value)
    except InvalidStateError:  # the caller cancelled its future: nobody wants this answer
        pass


@dataclass
class _Group:
    """One (uuid, priority, queue): the batches in flight and the calls held until one is answered."""

    max_size: int
    in_flight: int = 0
    held: _Batch | None = None


class CallBatching(ComputeWrapper):
    """Sends concurrent ``predict`` calls of batching models as shared tasks; see the module docstring.

    ``policy(uuid)`` says whether (and how) a version batches; ``max_in_flight`` bounds the
    tasks in flight per group (default: the backend's ``parallelism``). :attr:`calls` and
    :attr:`batches` count the calls it took and the tasks it sent for them.
    """

    def __init__(self, inner: Compute, policy: BatchingPolicy, *, max_in_flight: int | None = None) -> None:
        super().__init__(inner)
        self.policy = policy
        self.max_in_flight = max(1, max_in_flight or inner.parallelism)
        self.calls = 0
        self.batches = 0
        self._groups: dict[tuple[str, str | None, str | None], _Group] = {}
        self._lock = threading.Lock()
        self._answers: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = 0
        self._collecting = 0

    def submit_many(self, tasks: Sequence[Task]) -> list[ResultHandle]:
        """Hold or send the calls of batching models; pass the other tasks on."""
        batching = [self._batching(task) for task in tasks]
        if not any(batching):
            return self.inner.submit_many(tasks)
        handles: list[ResultHandle | None] = [None] * len(tasks)
        others: list[int] = []
        leaving: list[_Batch] = []
        for position, (task, options) in enumerate(zip(tasks, batching)):
            if options is None:
                others.append(position)
                continue
            future: Future[Any] = Future()
            handles[position] = BatchedCall(task, future)
            batch = self._hold(task, future, options.max_size)
            if batch is not None:
                leaving.append(batch)
        if others:
            for position, handle in zip(others, self.inner.submit_many([tasks[p] for p in others])):
                handles[position] = handle
        for batch in leaving:
            self._send(batch)
        return handles  # type: ignore[return-value]

    def acts_on(self, task: Task) -> bool:
        """Whether ``task`` is a ``predict(x)`` of a model that declares ``batching=``."""
        return self._batching(task) is not None

    def _batching(self, task: Task) -> Batching | None:
        if task.method != "predict" or len(task.args) != 1 or task.kwargs:
            return None
        return self.policy(task.target.uuid)

    def _hold(self, task: Task, future: Future[Any], max_size: int) -> _Batch | None:
        """Hold the call; return the batch that leaves now, if a task may go."""
        key = (task.target.uuid, task.options.priority, task.options.queue)
        with self._lock:
            self.calls += 1
            group = self._groups.setdefault(key, _Group(max_size))
            if group.held is None:
                group.held = _Batch(key)
            group.held.tasks.append(task)
            group.held.futures.append(future)
            return self._take(group)

    def _take(self, group: _Group) -> _Batch | None:
        """The held calls (up to ``max_size``) if a task may go now; the rest stay held. Under the lock."""
        held = group.held
        if held is None or group.in_flight >= self.max_in_flight:
            return None
        if len(held.tasks) > group.max_size:
            size = group.max_size
            group.held = _Batch(held.key, held.tasks[size:], held.futures[size:])
            held = _Batch(held.key, held.tasks[:size], held.futures[:size])
        else:
            group.held = None
        group.in_flight += 1
        self.batches += 1
        self._collecting += 1
        if self._threads < self._collecting:
            self._threads += 1
            threading.Thread(target=self._collect, name="superlite-call-batching", daemon=True).start()
        return held

    def _send(self, batch: _Batch) -> None:
        try:
            handle = self.inner.submit(batch.task())
        except BaseException as exc:  # noqa: BLE001 - the callers get the error from their handles
            batch.fail(exc)
            self._answered(batch)
            return
        self._answers.put((batch, handle))

    def _collect(self) -> None:
        """A collecting thread: wait for each batch's answer, hand it out, send what was held meanwhile."""
        while True:
            item = self._answers.get()
            if item is _STOP:
                return
            batch, handle = item
            batch.settle(handle)
            self._answered(batch)

    def _answered(self, batch: _Batch) -> None:
        with self._lock:
            self._collecting -= 1
            group = self._groups[batch.key]
            group.in_flight -= 1
            following = self._take(group)
            if group.in_flight == 0 and group.held is None:
                del self._groups[batch.key]
        if following is not None:
            self._send(following)

    def close(self) -> None:
        """Stop the collecting threads, then close the inner compute."""
        with self._lock:
            threads, self._threads = self._threads, 0
        for _ in range(threads):
            self._answers.put(_STOP)
        super().close()
