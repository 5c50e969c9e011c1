"""What Celery itself records: a model's exception is a FAILURE, and a call given up on is revoked."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import remote_models

from superlite import ObjectModel
from superlite.errors import ComputeError, RemoteError, SerializationError
from superlite.testing.workers import Stack


def test_a_model_exception_is_a_celery_failure_and_a_remote_error(make_stack: Callable[..., Stack], redis_broker: str) -> None:
    stack = make_stack(redis_broker, "--concurrency", "1")
    with stack.connect() as db:
        model = db.apply(ObjectModel(f"fails-{uuid.uuid4().hex[:6]}", object=remote_models.fail))
        handle = db.compute(model.reference, "predict", (1,), wait=False)
        celery_view = db.compute_backend.backend.app.AsyncResult(handle.task_id)
        deadline = time.monotonic() + 30
        while not celery_view.ready():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert celery_view.state == "FAILURE"  # what Flower and the result backend show
        assert "ValueError" in str(celery_view.result)
        with pytest.raises(RemoteError) as caught:
            handle.result(30)
    assert caught.value.exc_type == "ValueError"


def test_a_call_whose_caller_gave_up_is_revoked_and_never_runs(
    make_stack: Callable[..., Stack], redis_broker: str, tmp_path: Path
) -> None:
    stack = make_stack(redis_broker, "--concurrency", "1")
    log, hold = tmp_path / "log", tmp_path / "hold"
    with stack.connect() as db:
        model = db.apply(ObjectModel(f"stamp-{uuid.uuid4().hex[:6]}", object=remote_models.stamp))
        first = db.compute(model.reference, "predict", ({"tag": "first", "log": str(log), "hold": str(hold)},), wait=False)
        deadline = time.monotonic() + 30
        while not Path(str(hold) + ".running").exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        late = db.compute(model.reference, "predict", ({"tag": "late", "log": str(log)},), wait=False)  # no deadline
        with pytest.raises(ComputeError, match="no answer within"):
            late.result(0.5)
        hold.write_text("")
        first.result(30)
        after = db.compute(model.reference, "predict", ({"tag": "after", "log": str(log)},))
    assert after == ["after", 2]
    assert log.read_text().split() == ["first", "after"]  # the revoked call never ran


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_value_the_worker_cannot_decode_is_answered_with_the_missing_wire_type(
    make_stack: Callable[..., Stack], broker: str
) -> None:
    # The caller's side of a wire type installed on the caller only: the tagged value it would
    # send, written directly (a plugin installed for this process alone would reach the workers
    # too, through the PYTHONPATH they inherit).
    from superlite.serialization.wire import TAG, PreEncoded
    from superlite.testing.services import require_service

    stack = make_stack(require_service(broker), "--concurrency", "1")
    with stack.connect(timeout=30) as db:
        model = db.apply(ObjectModel(f"echo-{uuid.uuid4().hex[:6]}", object=remote_models.echo))
        started = time.monotonic()
        with pytest.raises(SerializationError, match="could not decode task .*'acme.point'.*install the plugin"):
            db.compute(model.reference, "predict", (PreEncoded({TAG: "acme.point", "v": [1, 2]}),))
        assert time.monotonic() - started < 10  # answered, not timed out
        assert db.compute(model.reference, "predict", ("still serving",)) == "still serving"
