"""Micro-batching on a real worker: concurrent remote predictions answered from shared batches.

A ``threads`` pool runs several tasks at once in one process, so their ``predict`` calls meet in
the model's batcher; a long ``max_wait_ms`` with a small ``max_size`` makes every batch close on
its size, never on the clock.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from batching_models import BatchReport

from superlite import Batching
from superlite.testing.workers import Stack


def call_together(model: Any, inputs: list[Any]) -> list[Any]:
    barrier = threading.Barrier(len(inputs))

    def call(x: Any) -> Any:
        barrier.wait()
        return model.predict(x)

    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(call, inputs))


def test_a_threads_worker_answers_concurrent_predictions_in_batches(
    make_stack: Callable[..., Stack], redis_broker: str
) -> None:
    stack = make_stack(redis_broker, "--pool", "threads", "--concurrency", "8")
    with stack.connect() as db:
        name = f"batched-{uuid.uuid4().hex[:6]}"
        db.apply(BatchReport(name, batching=Batching(max_size=4, max_wait_ms=30_000)))
        model = db.load("model", name)
        answers = call_together(model, list(range(8)))
    assert [a[0] for a in answers] == list(range(8))  # each caller its own answer
    assert {a[1] for a in answers} == {4}  # from two batches of four
    assert len({a[2] for a in answers}) == 1


def test_a_worker_reports_its_batch_counts_with_its_loaded_models(
    make_stack: Callable[..., Stack], redis_broker: str
) -> None:
    stack = make_stack(redis_broker, "--pool", "threads", "--concurrency", "8", "--heartbeat", "0.2")
    with stack.connect() as db:
        name = f"batched-{uuid.uuid4().hex[:6]}"
        db.apply(BatchReport(name, batching=Batching(max_size=4, max_wait_ms=30_000)))
        call_together(db.load("model", name), list(range(8)))
        deadline = time.monotonic() + 30
        while True:
            loaded = [m for row in db.workers() for m in row["loaded"] if m["identifier"] == name]
            if loaded and loaded[0].get("inputs") == 8 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert [(m["batches"], m["inputs"]) for m in loaded] == [(2, 8)]


def test_calls_a_caller_held_reach_the_worker_as_one_batch(make_stack: Callable[..., Stack], redis_broker: str) -> None:
    stack = make_stack(redis_broker, "--pool", "threads", "--concurrency", "8")
    with stack.connect(parallelism=1) as db:  # one task of a model in flight at a time
        name = f"batched-{uuid.uuid4().hex[:6]}"
        db.apply(BatchReport(name, batching=Batching(max_size=4, max_wait_ms=50)))
        reference = db.load("model", name).reference
        first = db.compute(reference, "predict", ("slow",), wait=False)
        held = [db.compute(reference, "predict", (x,), wait=False) for x in "abc"]  # held until "slow" answers
        answers = [h.result(60) for h in [first, *held]]
        assert db.call_batching is not None and (db.call_batching.calls, db.call_batching.batches) == (4, 2)  # "slow", then a, b, c
    assert [a[:2] for a in answers] == [["slow", 1], ["a", 3], ["b", 3], ["c", 3]]


def test_without_caller_batching_each_call_is_a_task(make_stack: Callable[..., Stack], redis_broker: str) -> None:
    stack = make_stack(redis_broker, "--pool", "threads", "--concurrency", "8")
    with stack.connect(parallelism=1, caller_batching=False) as db:
        assert db.call_batching is None
        name = f"batched-{uuid.uuid4().hex[:6]}"
        db.apply(BatchReport(name, batching=Batching(max_size=4, max_wait_ms=30_000)))
        reference = db.load("model", name).reference
        handles = [db.compute(reference, "predict", (x,), wait=False) for x in "abcd"]
        answers = [h.result(60) for h in handles]
    assert [a[:2] for a in answers] == [["a", 4], ["b", 4], ["c", 4], ["d", 4]]  # the worker batched them


def test_a_prefork_worker_still_answers_a_batching_model(make_stack: Callable[..., Stack], redis_broker: str) -> None:
    stack = make_stack(redis_broker, "--concurrency", "1")
    with stack.connect() as db:
        name = f"batched-{uuid.uuid4().hex[:6]}"
        db.apply(BatchReport(name, batching=Batching(max_size=4, max_wait_ms=1)))
        assert db.load("model", name).predict("x")[:2] == ["x", 1]  # one task at a time: batches of one
