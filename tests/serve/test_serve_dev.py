"""``superlite dev``: the API (and workers) as child processes, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import httpx
import psutil
import pytest
from conftest import fill

from superlite.testing.http import clean_env, running_server
from superlite.testing.services import require_service
from superlite.testing.workers import unique_queue


def children_of(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def test_dev_without_a_broker_serves_in_process_and_stops_on_ctrl_c(tmp_path):
    uri = f"sqlite:///{tmp_path / 'dev.db'}"
    fill(uri)
    with running_server(uri, command="dev", log_dir=tmp_path) as dev:
        answer = httpx.post(f"{dev.url}/predict/double", json={"input": 2}, timeout=60)
        assert answer.json() == {"model": "double", "version": 1, "output": 6}
        assert httpx.get(f"{dev.url}/api/stats", timeout=60).json()["compute"] == "local"
        children = children_of(dev.process.pid)
        assert children
        assert dev.stop(signal.SIGINT) == 0, dev.log()
        for child in children:
            assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


@pytest.mark.timeout(180)
def test_dev_with_a_broker_runs_workers(tmp_path):
    broker = require_service("redis")
    uri = f"sqlite:///{tmp_path / 'dev.db'}"
    fill(uri)
    queue = unique_queue()
    with running_server(uri, "--broker", broker, "--queue", queue, "--workers", "2", command="dev", log_dir=tmp_path) as dev:
        children = children_of(dev.process.pid)
        commands = [" ".join(p.cmdline()) for p in psutil.Process(dev.process.pid).children()]
        assert sum(f" worker --broker {broker} --queues {queue} " in c for c in commands) == 2
        assert any(f" serve --broker {broker} --queue {queue} " in c for c in commands)
        answer = httpx.post(f"{dev.url}/predict/double@0", json={"input": 5}, timeout=60)
        assert answer.json() == {"model": "double", "version": 0, "output": 10}
        assert httpx.get(f"{dev.url}/api/stats", timeout=60).json()["compute"] == "celery"
        assert dev.stop(signal.SIGINT) == 0, dev.log()
        for child in children:
            assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_dev_exits_non_zero_when_a_child_dies(tmp_path):
    uri = f"sqlite:///{tmp_path / 'dev.db'}"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "superlite", "--uri", uri, "dev", "--port", str(port)],
            capture_output=True, text=True, timeout=120, env=clean_env(),
        )
    assert result.returncode == 1
    assert "exited on its own" in result.stderr and "serve (pid" in result.stderr
