"""Micro-batching: concurrent single predictions of one model grouped into ``predict_batches`` calls.

Dynamic batching as Triton and TF Serving do it, off by default. A model declares
``batching=Batching(max_size=32, max_wait_ms=5)``; wherever it runs (in-process compute or a
worker), the executor hands each ``predict(x)`` call to the model's :class:`MicroBatcher`. The
batcher takes the first waiting input, waits up to ``max_wait_ms`` for more (fewer if
``max_size`` inputs are already there), calls ``predict_batches`` once on the group, and gives
each caller its own answer. If the batch call raises, every caller in the batch gets that
exception; a result list of the wrong length is a :class:`~superlite.errors.ComputeError`.

A ``predict_batches`` call of at most ``max_size`` inputs joins a batch too, as several inputs
at once: callers with a broker send their concurrent calls as such small batches (see
:mod:`superlite.compute.call_batching`), and the worker merges them with the others it has in
hand. A batch such a call opens takes what is waiting and does not wait ``max_wait_ms`` for
more: its calls were held by their caller already. A batch never holds more than ``max_size``
inputs; a larger ``predict_batches`` call runs on its own, as it was made.

Batches only form when calls arrive concurrently in one process: in-process compute runs calls
on a thread pool, and a worker must run several tasks at once, which the ``threads`` pool does
(``superlite worker --pool threads --concurrency 16``). A prefork pool process runs one task at
a time, so each of its batches holds one call.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from superlite.components.batching import Batching
from superlite.errors import ComputeError


class _Call:
    """One waiting call: its inputs (one for ``predict``), whether a batch it opens waits for
    company (only ``predict`` calls do), and the future of their outputs."""

    __slots__ = ("xs", "waits", "future")

    def __init__(self, xs: list[Any], waits: bool) -> None:
        self.xs = xs
        self.waits = waits
        self.future: Future[list[Any]] = Future()


_STOP = object()


class MicroBatcher:
    """Groups concurrent ``predict`` calls of one loaded model into ``predict_batches`` calls.

    ``run_batch(model, xs)`` runs one batch (the executor passes one that marks the thread as
    running a task). The batcher holds the model weakly: it lives as long as the model cache
    keeps the model, or a caller is waiting on it. :attr:`batches` and :attr:`inputs` count
    what it ran.
    """

    def __init__(
        self, model: Any, options: Batching, run_batch: Callable[[Any, list[Any]], Sequence[Any]], name: str = "model"
    ) -> None:
        self.options = options
        self.batches = 0
        self.inputs = 0
        self._model = weakref.ref(model)
        self._run_batch = run_batch
        self._name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=f"superlite-batcher-{name}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether its model is still loaded (else the batcher should be closed)."""
        return self._model() is not None

    def predict(self, x: Any) -> Any:
        """The model's answer for ``x``, computed in a batch with whatever else is waiting.

        After :meth:`close` (the model is being unloaded) a call runs alone, in the caller's thread.
        """
        return self._wait(_Call([x], waits=True))[0]

    def predict_many(self, xs: Sequence[Any]) -> list[Any]:
        """The model's answers for ``xs``, in a batch with whatever else is waiting if they fit in one.

        A batch they open takes what is waiting then and does not wait for more: such calls come
        from callers that held them while earlier tasks were in flight, so they have waited
        already. More than ``max_size`` inputs run alone, in the caller's thread, as one
        ``predict_batches`` call.
        """
        call = _Call(list(xs), waits=False)
        if len(call.xs) > self.options.max_size:
            self._answer([call])
            return call.future.result()
        return self._wait(call)

    def _wait(self, call: _Call) -> list[Any]:
        with self._lock:
            queued = not self._closed
            if queued:
                self._queue.put(call)
        if not queued:
            self._answer([call])
        return call.future.result()

    def close(self) -> None:
        """Stop the batching thread once the calls already queued are answered."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _loop(self) -> None:
        item: Any = None
        while True:
            first = self._queue.get() if item is None else item
            if first is _STOP:
                return
            batch, item = self._fill(first)
            self._answer(batch)

    def _fill(self, first: _Call) -> tuple[list[_Call], Any]:
        """Calls arriving within ``max_wait_ms`` after ``first`` (at once if it does not wait), up to ``max_size`` inputs in all.

        Also returns what was taken from the queue but belongs after this batch (a call that
        does not fit, or the stop signal), else None.
        """
        batch, size = [first], len(first.xs)
        deadline = time.monotonic() + (self.options.max_wait_ms / 1000 if first.waits else 0.0)
        while size < self.options.max_size:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is _STOP or size + len(item.xs) > self.options.max_size:
                return batch, item
            batch.append(item)
            size += len(item.xs)
        return batch, None

    def _answer(self, batch: list[_Call]) -> None:
        model = self._model()
        inputs = [x for call in batch for x in call.xs]
        try:
            if model is None:
                raise ComputeError(f"{self._name} was unloaded while {len(batch)} call(s) waited for a batch")
            outputs = list(self._run_batch(model, inputs))
            if len(outputs) != len(inputs):
                raise ComputeError(
                    f"predict_batches of {self._name} returned {len(outputs)} outputs for {len(inputs)} inputs"
                )
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets the batch's error
            for call in batch:
                call.future.set_exception(exc)
            return
        finally:
            del model
        self.batches += 1
        self.inputs += len(inputs)
        start = 0
        for call in batch:
            call.future.set_result(outputs[start : start + len(call.xs)])
            start += len(call.xs)


class Batchers:
    """The micro-batchers of one executor, one per loaded model uuid that declares batching."""

    def __init__(self, run_batch: Callable[[Any, list[Any]], Sequence[Any]]) -> None:
        self._run_batch = run_batch
        self._batchers: dict[str, MicroBatcher] = {}
        self._lock = threading.Lock()

    def get(self, uuid: str, model: Any) -> MicroBatcher:
        """The batcher of ``model`` (loaded under ``uuid``, with ``model.batching`` set), started on first use."""
        with self._lock:
            batcher = self._batchers.get(uuid)
            if batcher is not None and batcher.alive:
                return batcher
            stale = [key for key, b in self._batchers.items() if not b.alive]
            for key in stale:
                self._batchers.pop(key).close()
            name = f"{model.type_id} {model.identifier!r}"
            batcher = MicroBatcher(model, Batching.of(model.batching, name) or Batching(), self._run_batch, name)
            self._batchers[uuid] = batcher
            return batcher

    def counts(self) -> dict[str, dict[str, int]]:
        """``{uuid: {"batches": ..., "inputs": ...}}``: what each running batcher has run so far.

        A worker reports them with its loaded models (``superlite status``), so the batch sizes
        that traffic actually forms (``inputs / batches``) can be read off a live deployment.
        """
        with self._lock:
            batchers = list(self._batchers.items())
        return {uuid: {"batches": b.batches, "inputs": b.inputs} for uuid, b in batchers}

    def discard(self, uuid: str) -> None:
        """Stop the batcher of ``uuid``, if any (its model was unloaded)."""
        with self._lock:
            batcher = self._batchers.pop(uuid, None)
        if batcher is not None:
            batcher.close()

    def close(self) -> None:
        """Stop every batcher."""
        with self._lock:
            batchers, self._batchers = list(self._batchers.values()), {}
        for batcher in batchers:
            batcher.close()
