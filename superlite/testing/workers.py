"""Real ``superlite worker`` processes on real brokers and databases, for tests (core and plugins).

Each group of workers consumes a queue of its own (a fresh name per fixture), so tests never
see each other's tasks even on one Redis database. Workers run as subprocesses in their own
process group and are stopped (SIGTERM, then SIGKILL) at teardown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

import superlite
from superlite.testing.databases import isolated_database

#: Seconds a worker may take to log that it is ready.
READY_TIMEOUT = 60.0

#: Result timeout callers use in these tests (generous: CI machines are slow; nothing waits for it).
CALL_TIMEOUT = 60.0


def unique_queue() -> str:
    """A queue name no other test uses."""
    return f"superlite-test-{uuid.uuid4().hex[:12]}"


@contextmanager
def unconsumed_queue(broker: str) -> Iterator[str]:
    """A fresh queue name on Redis ``broker`` that no worker consumes; what is left in it is deleted afterwards."""
    queue = unique_queue()
    try:
        yield queue
    finally:
        import redis

        client = redis.Redis.from_url(broker)
        leftovers = client.keys(f"*{queue}*")  # its priority lists and kombu's binding
        if leftovers:
            client.delete(*leftovers)


@dataclass
class Worker:
    """One ``superlite worker`` subprocess and its log file."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        """The worker's main process id (also its process group id)."""
        return self.process.pid

    def log(self) -> str:
        """Everything the worker printed so far."""
        return self.log_path.read_text(errors="replace")

    def pids(self) -> set[int]:
        """The main process and its pool processes."""
        try:
            main = psutil.Process(self.pid)
            return {self.pid, *(child.pid for child in main.children(recursive=True))}
        except psutil.NoSuchProcess:
            return set()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until Celery logs ``ready.``; fail with the log if the worker exits first."""
        self.wait_for_log(" ready.", timeout)

    def wait_for_log(self, text: str, timeout: float = CALL_TIMEOUT) -> str:
        """The log once it holds ``text``; fail with the log if the worker exits or ``timeout`` passes first.

        A worker logs a finished task after storing its result, so the caller can have its answer
        before the line is written: wait for the line before stopping the worker.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if text in log:
                return log
            if self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode} before logging {text!r}:\n{log}")
            time.sleep(0.05)
        pytest.fail(f"worker did not log {text!r} within {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool processes."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def terminate(self) -> None:
        """Ask for a warm shutdown (SIGTERM to the whole process group)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """Warm shutdown, then SIGKILL if it takes too long."""
        self.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()


def worker_env() -> dict[str, str]:
    """The environment of worker subprocesses: the test's import path, no inherited broker or URI.

    Workers get this process's ``sys.path``, so a model class a test module defines (and pytest
    made importable) can be imported by the worker too.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("SUPERLITE_BROKER", "SUPERLITE_URI")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, sys.path))
    return env


def start_worker(uri: str, broker: str, queue: str, log_dir: Path, *args: str) -> Worker:
    """Start ``superlite worker`` consuming ``queue`` (not waiting for it to be ready)."""
    log_path = log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
    command = [sys.executable, "-m", "superlite", "worker", "--uri", uri, "--broker", broker, "--queues", queue, *args]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=worker_env(), start_new_session=True)
    return Worker(process, log_path)


@dataclass
class Stack:
    """A database, a broker, a queue and the workers serving it."""

    uri: str
    broker: str
    queue: str
    workers: list[Worker] = field(default_factory=list)
    log_dir: Path = Path(".")

    def connect(self, **options: object) -> superlite.Datalayer:
        """A caller's Datalayer sending to this stack's queue."""
        options.setdefault("timeout", CALL_TIMEOUT)
        return superlite.connect(self.uri, broker=self.broker, queue=self.queue, **options)

    def start(self, *args: str, count: int = 1) -> list[Worker]:
        """Start ``count`` more workers with extra CLI ``args`` and wait until they are ready."""
        started = [start_worker(self.uri, self.broker, self.queue, self.log_dir, *args) for _ in range(count)]
        self.workers.extend(started)
        for worker in started:
            worker.wait_ready()
        return started

    def worker_of(self, pid: int) -> Worker:
        """The worker whose main or pool process has ``pid``."""
        for worker in self.workers:
            if pid in worker.pids():
                return worker
        raise AssertionError(f"pid {pid} belongs to no worker of this stack ({[w.pids() for w in self.workers]})")

    def stop(self) -> None:
        """Stop every worker (all asked at once, then waited for)."""
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            worker.stop()


@contextmanager
def running_stack(kind: str, broker: str, directory: Path, *worker_args: str, count: int = 1) -> Iterator[Stack]:
    """A fresh ``kind`` database with ``count`` workers (CLI ``worker_args``) on a fresh queue."""
    with isolated_database(kind, directory) as uri:
        stack = Stack(uri, broker, unique_queue(), log_dir=directory)
        try:
            if count:
                stack.start(*worker_args, count=count)
            yield stack
        finally:
            stack.stop()
