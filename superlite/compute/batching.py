"""Micro-batching: concurrent single predictions of one model grouped into ``predict_batches`` calls.

Dynamic batching as Triton and TF Serving do it, off by default. A model declares
``batching=Batching(max_size=32, max_wait_ms=5)``; wherever it runs (in-process compute or a
worker), the executor hands each ``predict(x)`` call to the model's :class:`MicroBatcher`. The
batcher takes the first waiting input, waits up to ``max_wait_ms`` for more (fewer if
``max_size`` inputs are already there), calls ``predict_batches`` once on the group, and gives
each caller its own answer. If the batch call raises, every caller in the batch gets that
exception; a result list of the wrong length is a :class:`~superlite.errors.ComputeError`.

Batches only form when calls arrive concurrently in one process: in-process compute runs calls
on a thread pool, and a worker must run several tasks at once, which the ``threads`` pool does
(``superlite worker --pool threads --concurrency 16``). A prefork pool process runs one task at
a time, so each of its batches holds one input.
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
    """One waiting ``predict`` call: its input and the future its caller waits on."""

    __slots__ = ("x", "future")

    def __init__(self, x: Any) -> None:
        self.x = x
        self.future: Future[Any] = Future()


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
        call = _Call(x)
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
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop = self._fill([first])
            self._answer(batch)
            if stop:
                return

    def _fill(self, batch: list[_Call]) -> tuple[list[_Call], bool]:
        """``batch`` grown to ``max_size`` with calls arriving within ``max_wait_ms``; whether to stop after."""
        deadline = time.monotonic() + self.options.max_wait_ms / 1000
        while len(batch) < self.options.max_size:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _answer(self, batch: list[_Call]) -> None:
        model = self._model()
        try:
            if model is None:
                raise ComputeError(f"{self._name} was unloaded while {len(batch)} call(s) waited for a batch")
            outputs = list(self._run_batch(model, [call.x for call in batch]))
            if len(outputs) != len(batch):
                raise ComputeError(
                    f"predict_batches of {self._name} returned {len(outputs)} outputs for {len(batch)} inputs"
                )
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets the batch's error
            for call in batch:
                call.future.set_exception(exc)
            return
        finally:
            del model
        self.batches += 1
        self.inputs += len(batch)
        for call, output in zip(batch, outputs):
            call.future.set_result(output)


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
