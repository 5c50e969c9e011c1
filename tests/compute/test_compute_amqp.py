"""The RabbitMQ lane: the same remote compute with an ``amqp://`` broker and ``rpc://`` results."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import remote_models

from superlite import ObjectModel
from superlite.errors import NotFoundError, RemoteError
from superlite.testing.services import require_service
from superlite.testing.workers import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two single-process workers on RabbitMQ over a SQLite file."""
    broker = require_service("rabbitmq")
    with running_stack("sqlite", broker, tmp_path_factory.mktemp("amqp"), "--concurrency", "1", count=2) as s:
        yield s


def test_predicts_on_a_worker_with_rpc_results(stack: Stack) -> None:
    with stack.connect() as db:
        assert db.compute_backend.backend.results == "rpc://"
        model = db.apply(ObjectModel(f"echo-{uuid.uuid4().hex[:8]}", object=remote_models.pid_and_echo, serve=True))
        pid, value = model.predict((b"raw", np.arange(3)))
        batches = model.predict_batches(list(range(25)), chunk_size=4)
    stack.worker_of(pid)
    assert value[0] == b"raw"
    np.testing.assert_array_equal(value[1], np.arange(3))
    assert [x for _, x in batches] == list(range(25))


def test_errors_come_home(stack: Stack) -> None:
    with stack.connect() as db:
        model = db.apply(ObjectModel(f"fail-{uuid.uuid4().hex[:8]}", object=remote_models.fail, serve=True))
        with pytest.raises(RemoteError, match="bad input 5"):
            model.predict(5)
        with pytest.raises(NotFoundError):
            db.compute(f"&:component:model:ghost:{uuid.uuid4()}", "predict", (1,))


def test_sigkill_of_a_whole_worker_redelivers_at_once(stack: Stack, tmp_path: Path) -> None:
    marker = tmp_path / "stalled-pid"
    with stack.connect() as db:
        model = db.apply(ObjectModel(f"stall-{uuid.uuid4().hex[:8]}", object=remote_models.StallOnce(str(marker)), serve=True))
        handle = db.compute(model.reference, "predict", (1,), wait=False)
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        victim = stack.worker_of(int(marker.read_text()))
        victim.kill()
        answered = handle.result()
    assert stack.worker_of(answered) is not victim
