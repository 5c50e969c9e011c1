"""Micro-batching in-process: concurrent predictions of one model grouped into predict_batches calls.

Small ``predict_batches`` calls (what callers with a broker send, tests/test_call_batching.py)
join batches too.

Batches are made deterministic by a long ``max_wait_ms`` with a small ``max_size``: a batch then
closes exactly when ``max_size`` calls have arrived, never on the clock. Worker tests are in
tests/compute/test_compute_batching.py.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

import superlite
from superlite import Batching, Model
from superlite.errors import ArgumentTypeError, ComputeError, InvalidArgumentError


@dataclass
class BatchSizeModel(Model):
    """Answers ``(x, size of the batch x was computed in)``; fails on the input "boom"."""

    seen: ClassVar[list[int]] = []

    def predict(self, x: Any) -> Any:
        return [x, 0]

    def predict_batches(self, xs: Any) -> list[Any]:
        type(self).seen.append(len(xs))
        if "boom" in xs:
            raise ValueError("boom in the batch")
        return [[x, len(xs)] for x in xs]


@dataclass
class ShortModel(Model):
    """Returns one answer too few from predict_batches."""

    def predict_batches(self, xs: Any) -> list[Any]:
        return list(xs)[1:]


def concurrently(db: superlite.Datalayer, reference: str, inputs: list[Any]) -> list[Any]:
    """Call ``predict`` for every input at once, from as many threads; results or exceptions, in order."""
    barrier = threading.Barrier(len(inputs))

    def call(x: Any) -> Any:
        barrier.wait()
        try:
            return db.compute(reference, "predict", (x,))
        except Exception as exc:  # noqa: BLE001 - the test looks at each caller's outcome
            return exc

    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(call, inputs))


@pytest.fixture
def local_db(tmp_path) -> Any:
    with superlite.connect(f"sqlite:///{tmp_path}/b.db", broker=None) as db:
        yield db


def test_concurrent_calls_are_answered_in_batches_of_max_size(local_db) -> None:
    BatchSizeModel.seen.clear()
    model = local_db.apply(BatchSizeModel("sizes", batching=Batching(max_size=4, max_wait_ms=30_000)))
    answers = concurrently(local_db, model.reference, list(range(8)))
    assert answers == [[x, 4] for x in range(8)]  # each caller its own answer, from a batch of 4
    assert BatchSizeModel.seen == [4, 4]
    batcher = local_db.executor.batchers.get(model.uuid, local_db.executor.models.get(model.uuid))
    assert (batcher.batches, batcher.inputs) == (2, 8)


def test_a_lone_call_waits_at_most_max_wait_ms(local_db) -> None:
    BatchSizeModel.seen.clear()
    model = local_db.apply(BatchSizeModel("lone", batching=Batching(max_size=64, max_wait_ms=1)))
    assert local_db.compute(model.reference, "predict", ("x",)) == ["x", 1]
    assert BatchSizeModel.seen == [1]


@dataclass
class GatedSizeModel(Model):
    """Answers ``[x, size of the batch]``; a batch holding "slow" waits for :attr:`gate` first."""

    gate: ClassVar[threading.Event] = threading.Event()
    started: ClassVar[threading.Event] = threading.Event()
    seen: ClassVar[list[list[Any]]] = []

    def predict_batches(self, xs: Any) -> list[Any]:
        type(self).seen.append(list(xs))
        if "slow" in xs:
            type(self).started.set()
            assert type(self).gate.wait(30)
        return [[x, len(xs)] for x in xs]


@pytest.fixture
def gated(local_db) -> Any:
    """Call ``gated(model, calls)``: the batcher is kept busy while ``calls`` ((method, input) pairs) queue up.

    In-process compute runs 4 calls at once, so the "slow" call and at most 3 others.
    """
    GatedSizeModel.gate.clear()
    GatedSizeModel.started.clear()
    GatedSizeModel.seen.clear()

    def run(model: Any, calls: list[tuple[str, Any]]) -> list[Any]:
        with ThreadPoolExecutor(len(calls) + 1) as pool:
            slow = pool.submit(local_db.compute, model.reference, "predict", ("slow",))
            assert GatedSizeModel.started.wait(30)
            queued = [pool.submit(local_db.compute, model.reference, method, (x,)) for method, x in calls]
            batcher = local_db.executor.batchers.get(model.uuid, local_db.executor.models.get(model.uuid))
            while batcher._queue.qsize() < len(calls):  # every call is queued behind the busy batch
                time.sleep(0.01)
            GatedSizeModel.gate.set()
            assert slow.result(30) == ["slow", 1]
            return [future.result(30) for future in queued]

    yield run
    GatedSizeModel.gate.set()


def test_small_predict_batches_calls_join_a_batch_with_single_predictions(local_db, gated) -> None:
    model = local_db.apply(GatedSizeModel("merged", batching=Batching(max_size=5, max_wait_ms=0)))
    answers = gated(model, [("predict_batches", ["a", "b"]), ("predict", "c"), ("predict_batches", ["d", "e"])])
    assert answers == [[["a", 5], ["b", 5]], ["c", 5], [["d", 5], ["e", 5]]]
    assert len(GatedSizeModel.seen) == 2 and sorted(GatedSizeModel.seen[1]) == list("abcde")  # one batch of 5


def test_a_batch_never_holds_more_than_max_size_inputs(local_db, gated) -> None:
    model = local_db.apply(GatedSizeModel("carry", batching=Batching(max_size=4, max_wait_ms=0)))
    answers = gated(model, [("predict_batches", ["a", "b", "c"]), ("predict_batches", ["d", "e", "f"])])
    assert answers == [[["a", 3], ["b", 3], ["c", 3]], [["d", 3], ["e", 3], ["f", 3]]]
    assert GatedSizeModel.seen[1:] == [["a", "b", "c"], ["d", "e", "f"]]  # the second did not fit next to the first


def test_a_batch_opened_by_a_predict_batches_call_does_not_wait_for_company(local_db) -> None:
    BatchSizeModel.seen.clear()
    model = local_db.apply(BatchSizeModel("nowait", batching=Batching(max_size=8, max_wait_ms=60_000)))
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(local_db.compute, model.reference, "predict_batches", (["a", "b"],))
        assert answer.result(30) == [["a", 2], ["b", 2]]  # the one-minute window was not waited out
    assert BatchSizeModel.seen == [2]


def test_predict_batches_of_more_than_max_size_runs_as_it_was_made(local_db) -> None:
    BatchSizeModel.seen.clear()
    model = local_db.apply(BatchSizeModel("large", batching=Batching(max_size=4, max_wait_ms=30_000)))
    assert local_db.compute(model.reference, "predict_batches", (list(range(10)),)) == [[x, 10] for x in range(10)]
    assert BatchSizeModel.seen == [10]


def test_without_batching_predict_is_called_directly(local_db) -> None:
    BatchSizeModel.seen.clear()
    model = local_db.apply(BatchSizeModel("plain"))
    assert concurrently(local_db, model.reference, [1, 2, 3]) == [[1, 0], [2, 0], [3, 0]]
    assert BatchSizeModel.seen == []


def test_every_caller_of_a_failing_batch_gets_its_error(local_db) -> None:
    BatchSizeModel.seen.clear()
    model = local_db.apply(BatchSizeModel("fails", batching=Batching(max_size=3, max_wait_ms=30_000)))
    answers = concurrently(local_db, model.reference, ["a", "boom", "c"])
    assert all(isinstance(a, ValueError) and "boom in the batch" in str(a) for a in answers)
    assert concurrently(local_db, model.reference, ["d", "e", "f"]) == [["d", 3], ["e", 3], ["f", 3]]


def test_a_wrong_number_of_batch_outputs_is_a_compute_error(local_db) -> None:
    model = local_db.apply(ShortModel("short", batching=Batching(max_size=2, max_wait_ms=30_000)))
    answers = concurrently(local_db, model.reference, [1, 2])
    assert all(isinstance(a, ComputeError) and "returned 1 outputs for 2 inputs" in str(a) for a in answers)


def test_batching_is_stored_with_the_version_and_read_back(local_db) -> None:
    stored = local_db.apply(BatchSizeModel("stored", batching=Batching(max_size=8, max_wait_ms=2.5)))
    loaded = local_db.executor.models.get(stored.uuid)  # built from the record, as a worker builds it
    assert Batching.of(loaded.batching) == Batching(max_size=8, max_wait_ms=2.5)
    assert local_db.apply(BatchSizeModel("stored", batching=Batching(max_size=8, max_wait_ms=2.5))).version == 0
    assert local_db.apply(BatchSizeModel("stored")).version == 1  # a serving choice of the version


def test_removing_a_model_stops_its_batcher(local_db) -> None:
    model = local_db.apply(BatchSizeModel("gone", batching=Batching(max_size=2, max_wait_ms=0)))
    assert local_db.compute(model.reference, "predict", (1,)) == [1, 1]
    loaded = local_db.executor.models.get(model.uuid)  # as executor.execute holds it during a call
    batcher = local_db.executor.batchers.get(model.uuid, loaded)
    local_db.executor.discard(model.uuid)
    assert not batcher._thread.is_alive()
    assert batcher.predict(5) == [5, 1]  # a call that raced the unload runs alone


@pytest.mark.parametrize(
    ("options", "error", "text"),
    [
        ({"max_size": 0}, InvalidArgumentError, "max_size must be between 1"),
        ({"max_size": True}, ArgumentTypeError, "max_size must be an int"),
        ({"max_size": "4"}, ArgumentTypeError, "max_size must be an int"),
        ({"max_wait_ms": -1}, InvalidArgumentError, "max_wait_ms must be between 0"),
        ({"max_wait_ms": float("nan")}, InvalidArgumentError, "max_wait_ms must be between 0"),
        ({"max_wait_ms": None}, ArgumentTypeError, "max_wait_ms must be a number"),
    ],
)
def test_bad_batching_options_are_refused(options: dict[str, Any], error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        Batching(**options)


def test_a_stored_batching_dict_is_checked_at_apply(local_db) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown batching option"):
        local_db.apply(BatchSizeModel("typo", batching={"max_size": 4, "max_wait": 5}))
    with pytest.raises(ArgumentTypeError, match="batching must be Batching"):
        local_db.apply(BatchSizeModel("wrong", batching=[4]))  # type: ignore[arg-type]
