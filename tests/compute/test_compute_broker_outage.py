"""Drill: a private Redis broker stops while a worker and a caller are busy, then comes back.

A call's timeout holds whatever the broker does, its error says the broker is unreachable, and
once the broker is back the worker (which reconnects by itself) and the caller serve again.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import remote_models

from superlite import ObjectModel
from superlite.errors import ComputeError
from superlite.testing.workers import Stack

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test's own, which it can stop and start again on the same port."""

    def __init__(self, directory: Path) -> None:
        self.port, self.directory = free_port(), directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_calls_fail_within_their_timeout_while_the_broker_is_down_then_serve_again(
    make_stack: Callable[..., Stack], private_redis: PrivateRedis
) -> None:
    stack = make_stack(private_redis.url, "--concurrency", "1")
    with stack.connect(timeout=30) as db:
        model = db.apply(ObjectModel(f"echo-{uuid.uuid4().hex[:6]}", object=remote_models.echo))
        slow = db.apply(ObjectModel(f"slow-{uuid.uuid4().hex[:6]}", object=remote_models.slow_pid))
        assert db.compute(model.reference, "predict", (1,)) == 1
        waiting = db.compute(slow.reference, "predict", (2.0,), wait=False)  # the broker goes away mid-wait
        private_redis.stop()
        started = time.monotonic()
        with pytest.raises(ComputeError):
            waiting.result(4)
        assert time.monotonic() - started < 4 + 2
        for queue in (None, "elsewhere"):
            started = time.monotonic()
            with pytest.raises(ComputeError, match="unreachable") as caught:
                db.compute(model.reference, "predict", (2,), timeout=4, queue=queue)
            assert time.monotonic() - started < 4 + 2  # the timeout holds, whatever the broker does
            assert f"to queue {queue or stack.queue!r}: broker" in str(caught.value)  # the queue the task was for
            assert "once it is back, calls go through again without a restart" in str(caught.value)  # shown below
        private_redis.start()
        deadline = time.monotonic() + 60
        while True:  # the worker reconnects by itself; the caller's next calls go through
            try:
                assert db.compute(model.reference, "predict", (3,), timeout=5) == 3
                break
            except ComputeError:
                assert time.monotonic() < deadline, "no answer after the broker came back"
                time.sleep(0.5)
