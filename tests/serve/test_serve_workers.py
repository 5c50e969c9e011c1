"""A live server whose predictions run on real ``superlite worker`` processes over Redis."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import fill

from superlite.testing.browser import dump_dom, require_chromium
from superlite.testing.http import LiveServer, running_server
from superlite.testing.services import require_service
from superlite.testing.workers import Stack, running_stack


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def remote_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Stack]]:
    """One worker (two pool processes) and a server sending predictions to its queue."""
    broker = require_service("redis")
    directory: Path = tmp_path_factory.mktemp(f"remote-{request.param}")
    with running_stack(request.param, broker, directory, "--concurrency", "2", count=1) as stack:
        fill(stack.uri)
        with running_server(stack.uri, "--broker", broker, "--queue", stack.queue, log_dir=directory) as server:
            yield server, stack


def test_infer_runs_on_a_worker(remote_server):
    server, stack = remote_server
    body = {"id": "w1", "inputs": [{"name": "x", "shape": [3], "datatype": "INT64", "data": [1, 2, 3]}]}
    answer = httpx.post(f"{server.url}/v2/models/double/infer", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_version"] == "1" and answer.json()["outputs"][0]["data"] == [3, 6, 9]
    stats = httpx.get(f"{server.url}/api/stats", timeout=60).json()
    assert stats["compute"] == "celery"
    assert stats["models_loaded"] == 0  # the worker loaded the model, not the server
    workers = httpx.get(f"{server.url}/api/workers", timeout=60).json()
    assert workers["compute"] == "celery" and workers["queue"] == stack.queue
    assert workers["workers"] == [f"superlite-{stack.workers[0].pid}@{socket.gethostname()}"]


def processes_once_one_holds(server: LiveServer, held: str) -> list[dict]:
    """``/api/workers``'s processes, once one reports holding ``held`` (rows are rewritten every 2 s)."""
    deadline = time.monotonic() + 30
    while True:
        processes = httpx.get(f"{server.url}/api/workers", timeout=60).json()["processes"]
        if any(held in process["loaded"] for process in processes):
            return processes
        assert time.monotonic() < deadline, f"no serving process reported holding {held}: {processes}"
        time.sleep(0.5)


def test_workers_report_the_versions_they_hold(remote_server):
    server, stack = remote_server
    assert httpx.post(f"{server.url}/predict/echo", json={"input": 1}, timeout=60).status_code == 200
    processes = processes_once_one_holds(server, "echo v0")
    assert all(process["queues"] == [stack.queue] and process["heartbeat_age"] >= 0 for process in processes)


def test_dashboard_shows_the_workers_in_a_browser(remote_server, tmp_path):
    chromium = require_chromium()
    server, stack = remote_server
    assert httpx.post(f"{server.url}/predict/echo", json={"input": 1}, timeout=60).status_code == 200
    processes_once_one_holds(server, "echo v0")
    dom = dump_dom(chromium, server.url + "/", tmp_path / "profile")
    assert f"worker(s) on queue {stack.queue}" in dom
    assert 'data-process="' in dom and "echo v0" in dom


def test_a_model_error_on_a_worker_is_a_500_naming_it(remote_server):
    server, _ = remote_server
    answer = httpx.post(f"{server.url}/predict/boom", json={"input": 1}, timeout=60)
    assert answer.status_code == 500 and "ZeroDivisionError" in answer.json()["error"]


def test_concurrent_requests_all_answer(remote_server):
    server, _ = remote_server

    async def many() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            calls = [client.post(f"/predict/double@{i % 2}", json={"input": i}) for i in range(24)]
            return await asyncio.gather(*calls)

    answers = asyncio.run(many())
    for i, answer in enumerate(answers):
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"model": "double", "version": i % 2, "output": i * (2 + i % 2)}
    metrics = httpx.get(f"{server.url}/metrics", timeout=60).text
    assert 'superlite_requests_total{model="double",status="success",version="0"} 12.0' in metrics
