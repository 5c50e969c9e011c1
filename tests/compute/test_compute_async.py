"""asyncio callers on real workers: ``await model.apredict(x)`` and ``await db.acompute(...)``.

On Redis the wait is pub/sub on the event loop (no thread per waiting call); on RabbitMQ
(``rpc://`` results) each wait takes a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
import remote_models

import superlite
from superlite import ObjectModel
from superlite.compute.celery.waiting import RedisResultWaiter
from superlite.errors import ComputeError, RemoteError
from superlite.testing.services import require_service
from superlite.testing.workers import Stack


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_many_awaited_predictions_take_no_thread_each(stack: Stack) -> None:
    with stack.connect() as db:
        assert isinstance(db.compute_backend.backend.result_waiter, RedisResultWaiter)
        model = db.apply(ObjectModel(unique("echo"), object=remote_models.echo, serve=True))
        peak = 0

        async def watch_threads(done: asyncio.Event) -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, threading.active_count())
                await asyncio.sleep(0.005)

        async def main() -> list[object]:
            done = asyncio.Event()
            watcher = asyncio.create_task(watch_threads(done))
            answers = await asyncio.gather(*(model.apredict(i) for i in range(200)))
            done.set()
            await watcher
            return answers

        before = threading.active_count()
        assert asyncio.run(main()) == list(range(200))
    assert peak - before < 10, f"{peak - before} more threads while 200 calls waited"


def test_awaited_errors_are_the_same_as_blocking_ones(stack: Stack) -> None:
    with stack.connect() as db:
        failing = db.apply(ObjectModel(unique("fail"), object=remote_models.fail, serve=True))
        with pytest.raises(RemoteError, match="bad input 'x'") as blocking:
            failing.predict("x")
        with pytest.raises(RemoteError, match="bad input 'x'") as awaited:
            asyncio.run(failing.apredict("x"))
        assert type(awaited.value) is type(blocking.value)


def test_an_awaited_call_without_workers_times_out_explaining_why(redis_broker: str, tmp_path) -> None:
    uri = f"sqlite:///{tmp_path / 'alone.db'}"
    with superlite.connect(uri, broker=redis_broker, queue=unique("nobody")) as db:
        model = db.apply(ObjectModel("echo", object=remote_models.echo, serve=True))
        with pytest.raises(ComputeError, match="no worker consumed queue"):
            asyncio.run(model.apredict(1, timeout=0.5))


def test_acompute_on_rabbitmq_waits_in_threads(tmp_path) -> None:
    from superlite.testing.workers import running_stack

    broker = require_service("rabbitmq")
    with running_stack("sqlite", broker, tmp_path, "--concurrency", "1", count=1) as rabbit, rabbit.connect() as db:
        assert db.compute_backend.backend.result_waiter is None
        model = db.apply(ObjectModel(unique("echo"), object=remote_models.echo, serve=True))

        async def main() -> list[object]:
            return await asyncio.gather(*(db.acompute(model.selector, "predict", (i,)) for i in range(20)))

        assert asyncio.run(main()) == list(range(20))


def test_apredict_detached_runs_locally() -> None:
    model = ObjectModel("local", object=remote_models.echo, serve=True)
    assert asyncio.run(model.apredict(7)) == 7
