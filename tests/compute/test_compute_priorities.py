"""Priorities on real workers: a high-priority call overtakes queued low-priority ones, on Redis and RabbitMQ.

One worker process (``--concurrency 1``) is held by a first call until the test releases it; the
calls sent meanwhile wait in the broker, where their priorities order them. The order the worker
runs them in is read from a log file the model appends to, so nothing depends on timing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import remote_models

from superlite import ObjectModel
from superlite.errors import ConfigurationError, InvalidArgumentError
from superlite.testing.services import require_service
from superlite.testing.workers import Stack


def held_worker_run(stack: Stack, tmp_path: Path, send: Callable[[Any, str], Any], tags: list[tuple[str, str | None]]) -> list[str]:
    """Hold the worker with a first call, send ``tags`` (tag, priority) in order, release: the order they ran in."""
    log, hold = tmp_path / f"log-{uuid.uuid4().hex[:6]}", tmp_path / f"hold-{uuid.uuid4().hex[:6]}"
    with stack.connect() as db:
        model = db.apply(ObjectModel(f"stamp-{uuid.uuid4().hex[:6]}", object=remote_models.stamp))
        first = db.compute(model.reference, "predict", ({"tag": "first", "log": str(log), "hold": str(hold)},), wait=False)
        deadline = time.monotonic() + 60
        while not Path(str(hold) + ".running").exists():
            assert time.monotonic() < deadline, "the worker never started the first call"
            time.sleep(0.01)
        handles = [send(db, model.reference, {"tag": tag, "log": str(log)}, priority) for tag, priority in tags]
        waiting = db.compute_backend.backend.queue_length()
        hold.write_text("")
        first.result(60)
        for handle in handles:
            handle.result(60)
    assert waiting == len(tags)  # every priority counted
    return log.read_text().split()[1:]


def send_with(db: Any, reference: str, x: dict[str, Any], priority: str | None) -> Any:
    return db.compute(reference, "predict", (x,), priority=priority, wait=False)


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_high_priority_calls_overtake_queued_low_priority_ones(
    make_stack: Callable[..., Stack], tmp_path: Path, broker: str
) -> None:
    stack = make_stack(require_service(broker), "--concurrency", "1")
    tags = [("low1", "low"), ("low2", "low"), ("normal1", None), ("low3", "low"), ("high1", "high"), ("normal2", "normal")]
    order = held_worker_run(stack, tmp_path, send_with, tags)
    assert order == ["high1", "normal1", "normal2", "low1", "low2", "low3"]


def test_a_model_s_default_priority_applies_when_the_caller_gives_none(
    make_stack: Callable[..., Stack], redis_broker: str, tmp_path: Path
) -> None:
    stack = make_stack(redis_broker, "--concurrency", "1")
    with stack.connect() as db:
        urgent = db.apply(ObjectModel(f"urgent-{uuid.uuid4().hex[:6]}", object=remote_models.stamp, priority="high"))

    def send(db: Any, reference: str, x: dict[str, Any], priority: str | None) -> Any:
        target = urgent.reference if x["tag"].startswith("urgent") else reference
        return db.compute(target, "predict", (x,), priority=priority, wait=False)

    order = held_worker_run(stack, tmp_path, send, [("plain1", None), ("urgent1", None), ("urgent2", "low")])
    assert order == ["urgent1", "plain1", "urgent2"]  # the model's default, unless the caller says otherwise


def test_bad_priorities_are_refused(tmp_path: Path) -> None:
    import superlite

    with superlite.connect(f"sqlite:///{tmp_path}/p.db") as db:
        with pytest.raises(InvalidArgumentError, match="priority must be one of"):
            db.apply(ObjectModel("p", object=remote_models.echo, priority="urgent"))
        model = db.apply(ObjectModel("q", object=remote_models.echo))
        with pytest.raises(ConfigurationError, match="priority must be one of"):
            db.compute(model.reference, "predict", (1,), priority="urgent")
