"""Failure behaviour of remote compute: no worker, no broker, killed workers, bounded caches."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import remote_models

import superlite
from superlite import ObjectModel
from superlite.errors import ComputeError
from superlite.testing.databases import isolated_database
from superlite.testing.workers import CALL_TIMEOUT, Stack, running_stack, unconsumed_queue, worker_env

#: How long a test waits for a side effect in a worker (a marker file, a log line).
WAIT = 60.0


@pytest.fixture(scope="module")
def stack(redis_broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two single-process prefork workers over SQLite (this module needs no PostgreSQL variant)."""
    with running_stack("sqlite", redis_broker, tmp_path_factory.mktemp("failures"), "--concurrency", "1", count=2) as s:
        yield s


def wait_for_file(path: Path) -> str:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def loads_logged(log: Path) -> list[str]:
    return log.read_text().split("\n")[:-1] if log.exists() else []


def test_no_worker_within_timeout_names_the_queue(make_stack: Callable[..., Stack], redis_broker: str) -> None:
    stack = make_stack(redis_broker, count=0)
    with stack.connect(timeout=1) as db:
        model = db.apply(ObjectModel("pid", object=remote_models.getpid, serve=True))
        with pytest.raises(ComputeError) as caught:
            model.predict(1)
    message = str(caught.value)
    assert f"no worker consumed queue {stack.queue!r}" in message
    assert "1 task(s) still waiting" in message
    command = message.partition("Start one: ")[2]
    assert shlex.split(command) == [
        "superlite", "worker", "--uri", stack.uri, "--broker", stack.broker, "--queues", stack.queue
    ]  # as printed, the command serves the same database and queue


def test_timeout_names_the_queue_the_task_went_to(stack: Stack) -> None:
    """A task sent with ``queue=`` that nobody consumes: the error names that queue, not the default one."""
    with stack.connect(timeout=1) as db, unconsumed_queue(stack.broker) as other:
        model = db.apply(ObjectModel("pid", object=remote_models.getpid, serve=True))
        with pytest.raises(ComputeError) as caught:
            db.compute(model.reference, "predict", (1,), queue=other)
    message = str(caught.value)
    assert f"no worker consumed queue {other!r}" in message and "1 task(s) still waiting" in message
    assert shlex.split(message.partition("Start one: ")[2])[-2:] == ["--queues", other]


def test_unreachable_broker_fails_at_connect_naming_the_masked_url(tmp_path: Path) -> None:
    with isolated_database("sqlite", tmp_path) as uri:
        with pytest.raises(ComputeError) as caught:
            superlite.connect(uri, broker="redis://:s3cret@127.0.0.1:1/0")
    message = str(caught.value)
    assert "redis://:***@127.0.0.1:1/0" in message
    assert "s3cret" not in message
    assert "Check that it is running and accepts connections at that host and port" in message


def test_worker_with_unreachable_broker_exits_with_a_clear_error(tmp_path: Path) -> None:
    with isolated_database("sqlite", tmp_path) as uri:
        completed = subprocess.run(
            [sys.executable, "-m", "superlite", "worker", "--uri", uri, "--broker", "amqp://guest:s3cret@127.0.0.1:1//"],
            capture_output=True, text=True, timeout=60, env=worker_env(),
        )
    assert completed.returncode != 0
    assert "cannot reach the broker amqp://guest:***@127.0.0.1:1//" in completed.stderr
    assert "s3cret" not in completed.stderr + completed.stdout


def test_sigkill_of_the_pool_process_redelivers_the_task(stack: Stack, tmp_path: Path) -> None:
    marker = tmp_path / "stalled-pid"
    with stack.connect() as db:
        model = db.apply(ObjectModel(f"stall-{uuid.uuid4().hex[:8]}", object=remote_models.StallOnce(str(marker)), serve=True))
        handle = db.compute(model.reference, "predict", (1,), wait=False)
        stalled = int(wait_for_file(marker))
        stack.worker_of(stalled)
        os.kill(stalled, signal.SIGKILL)
        answered = handle.result()
    assert answered != stalled
    stack.worker_of(answered)


def test_sigkill_of_a_whole_worker_redelivers_to_another(make_stack: Callable[..., Stack], redis_broker: str, tmp_path: Path) -> None:
    stack = make_stack(redis_broker, "--concurrency", "1", "--visibility-timeout", "3", count=2)
    marker = tmp_path / "stalled-pid"
    with stack.connect() as db:
        model = db.apply(ObjectModel("stall", object=remote_models.StallOnce(str(marker)), serve=True))
        handle = db.compute(model.reference, "predict", (1,), wait=False)
        victim = stack.worker_of(int(wait_for_file(marker)))
        victim.kill()
        answered = handle.result()
    survivor = stack.worker_of(answered)
    assert survivor is not victim


def test_cache_evicts_least_recently_used_under_a_small_budget(make_stack: Callable[..., Stack], redis_broker: str, tmp_path: Path) -> None:
    stack = make_stack(redis_broker, "--concurrency", "1", "--cache-mb", "1")
    log = tmp_path / "loads.log"
    with stack.connect() as db:
        models = {
            name: db.apply(ObjectModel(name, object=remote_models.LoadCounter(name, str(log), size=400_000), serve=True))
            for name in "abc"
        }
        for name in "abcacc":
            assert models[name].predict(0) == name

    # a+b fit in 1 MiB; c evicts a; a comes back and evicts b; c stays cached
    assert [line.split()[0] for line in loads_logged(log)] == ["a", "b", "c", "a"]


def test_concurrent_first_requests_load_the_model_once(make_stack: Callable[..., Stack], redis_broker: str, tmp_path: Path) -> None:
    stack = make_stack(redis_broker, "--pool", "threads", "--concurrency", "4")
    log = tmp_path / "loads.log"
    with stack.connect() as db:
        model = db.apply(ObjectModel("slow-load", object=remote_models.LoadCounter("slow", str(log), load_delay=1.0), serve=True))
        handles = [db.compute(model.reference, "predict", (i,), wait=False) for i in range(8)]
        assert [handle.result(CALL_TIMEOUT) for handle in handles] == ["slow"] * 8
    assert len(loads_logged(log)) == 1


def test_prefork_processes_each_load_a_model_once(stack: Stack, tmp_path: Path) -> None:
    log = tmp_path / "loads.log"
    with stack.connect() as db:
        model = db.apply(ObjectModel(f"count-{uuid.uuid4().hex[:8]}", object=remote_models.LoadCounter("n", str(log)), serve=True))
        handles = [db.compute(model.reference, "predict", (i,), wait=False) for i in range(12)]
        assert {handle.result() for handle in handles} == {"n"}
    pids = [line.split()[1] for line in loads_logged(log)]
    assert len(pids) == len(set(pids)) >= 1
