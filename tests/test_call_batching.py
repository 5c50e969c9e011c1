"""Batching on the caller: calls held while a task of their model is in flight leave as one task.

:class:`CallBatching` wraps a real in-process compute here, with one task in flight at most, and
the model blocks on a gate: the first call is in flight until the test opens the gate, so which
calls are held, and which batch each leaves in, is decided by the test, not by timing. The same
on real workers is in tests/compute/test_compute_batching.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

import superlite
from superlite import Batching, Model
from superlite.compute.base import ComputeWrapper, ResultHandle, Task, TaskOptions
from superlite.compute.call_batching import BatchedCall, CallBatching
from superlite.compute.local import LocalCompute
from superlite.errors import ComputeError


@dataclass
class GatedModel(Model):
    """Answers ``[x, size of the batch]``; the input "slow" waits for :attr:`gate`; "boom" fails its batch."""

    gate: ClassVar[threading.Event] = threading.Event()
    started: ClassVar[threading.Event] = threading.Event()
    seen: ClassVar[list[list[Any]]] = []

    def predict(self, x: Any) -> Any:
        return self.predict_batches([x])[0]

    def predict_batches(self, xs: Any) -> list[Any]:
        type(self).seen.append(list(xs))
        if "slow" in xs:
            type(self).started.set()
            assert type(self).gate.wait(30)
        if "boom" in xs:
            raise ValueError("boom in the batch")
        return [[x, len(xs)] for x in xs]


@pytest.fixture
def db(tmp_path) -> Iterator[superlite.Datalayer]:
    GatedModel.gate.clear()
    GatedModel.started.clear()
    GatedModel.seen.clear()
    with superlite.connect(f"sqlite:///{tmp_path}/c.db") as db:
        yield db
    GatedModel.gate.set()


class Sent(ComputeWrapper):
    """Passes tasks on and keeps the method of each: what caller batching actually sent."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.methods: list[str] = []

    def submit_many(self, tasks: Sequence[Task]) -> list[ResultHandle]:
        self.methods.extend(task.method for task in tasks)
        return self.inner.submit_many(tasks)


@pytest.fixture
def compute(db) -> Iterator[CallBatching]:
    """Caller batching around in-process compute, with one task of a model in flight at most."""
    compute = CallBatching(Sent(LocalCompute(db.executor)), db.policies.batching, max_in_flight=1)
    yield compute
    GatedModel.gate.set()
    compute.close()


def gated(db: superlite.Datalayer, name: str, max_size: int = 8) -> Any:
    return db.apply(GatedModel(name, batching=Batching(max_size=max_size, max_wait_ms=0)))


def predict(db: superlite.Datalayer, reference: str, x: Any) -> Task:
    return Task(db.resolve(reference), "predict", (x,))


def in_flight(db: superlite.Datalayer, compute: CallBatching, reference: str) -> BatchedCall:
    """Send the "slow" call and wait until the model runs it: the one task in flight."""
    handle = compute.submit(predict(db, reference, "slow"))
    assert GatedModel.started.wait(30)
    return handle  # type: ignore[return-value]


def test_calls_held_while_a_task_is_in_flight_leave_together(db, compute) -> None:
    model = gated(db, "gated")
    first = in_flight(db, compute, model.reference)
    held = [compute.submit(predict(db, model.reference, x)) for x in "abc"]
    assert not any(h.done() for h in held)
    assert (compute.calls, compute.batches) == (4, 1)
    GatedModel.gate.set()
    assert first.result(30) == ["slow", 1]
    assert [h.result(30) for h in held] == [["a", 3], ["b", 3], ["c", 3]]
    assert GatedModel.seen == [["slow"], ["a", "b", "c"]]
    assert (compute.calls, compute.batches) == (4, 2)
    assert compute.inner.methods == ["predict", "predict_batches"]
    assert [h.answered_by for h in held] == [db.resolve(model.reference)] * 3


def test_held_calls_leave_in_batches_of_at_most_max_size(db, compute) -> None:
    model = gated(db, "sized", max_size=2)
    in_flight(db, compute, model.reference)
    held = [compute.submit(predict(db, model.reference, x)) for x in "abcde"]
    GatedModel.gate.set()
    assert [h.result(30) for h in held] == [["a", 2], ["b", 2], ["c", 2], ["d", 2], ["e", 1]]
    assert GatedModel.seen == [["slow"], ["a", "b"], ["c", "d"], ["e"]]


def test_a_lone_call_leaves_at_once_as_the_predict_it_is(db, compute) -> None:
    model = gated(db, "lone")
    assert compute.submit(predict(db, model.reference, "x")).result(30) == ["x", 1]
    assert compute.submit(predict(db, model.reference, "y")).result(30) == ["y", 1]
    assert (compute.calls, compute.batches) == (2, 2)
    assert compute.inner.methods == ["predict", "predict"]


def test_every_call_of_a_failing_batch_gets_its_error(db, compute) -> None:
    model = gated(db, "fails")
    in_flight(db, compute, model.reference)
    held = [compute.submit(predict(db, model.reference, x)) for x in ["a", "boom"]]
    GatedModel.gate.set()
    for handle in held:
        with pytest.raises(ValueError, match="boom in the batch"):
            handle.result(30)
    assert compute.submit(predict(db, model.reference, "c")).result(30) == ["c", 1]  # nothing left stuck


def test_a_caller_that_stops_waiting_does_not_stop_the_others(db, compute) -> None:
    model = gated(db, "impatient")
    in_flight(db, compute, model.reference)
    impatient = compute.submit(predict(db, model.reference, "a"))
    patient = compute.submit(predict(db, model.reference, "b"))
    with pytest.raises(ComputeError, match="within 0.05 s"):
        impatient.result(0.05)
    GatedModel.gate.set()
    assert patient.result(30) == ["b", 2]
    assert impatient.result(30) == ["a", 2]  # its answer still came


def test_a_held_call_is_awaited_without_blocking_the_event_loop(db, compute) -> None:
    model = gated(db, "awaited")

    async def scenario() -> list[Any]:
        first = in_flight(db, compute, model.reference)
        held = compute.submit(predict(db, model.reference, "a"))
        with pytest.raises(ComputeError, match="within 0.01 s"):
            await held.aresult(0.01)
        asyncio.get_running_loop().call_later(0.01, GatedModel.gate.set)
        return [await first.aresult(30), await held.aresult(30)]

    assert asyncio.run(scenario()) == [["slow", 1], ["a", 1]]


def test_models_without_batching_pass_straight_through(db, compute) -> None:
    model = db.apply(GatedModel("plain"))
    handle = compute.submit(predict(db, model.reference, "x"))
    assert not isinstance(handle, BatchedCall)
    assert handle.result(30) == ["x", 1]
    assert compute.calls == 0


def test_calls_with_other_priorities_are_not_mixed(db, compute) -> None:
    model = gated(db, "prio")
    target = db.resolve(model.reference)
    in_flight(db, compute, model.reference)
    held = compute.submit(predict(db, model.reference, "n"))
    high = compute.submit(Task(target, "predict", ("h",), options=TaskOptions(priority="high")))
    assert compute.batches == 2  # its own group had nothing in flight: it left at once, alone
    assert not held.done()
    GatedModel.gate.set()
    assert high.result(30)[0] == "h"
    assert held.result(30)[0] == "n"
