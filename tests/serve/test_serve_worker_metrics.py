"""``superlite worker --metrics-port``: one scrape counts the tasks of every pool process."""

from __future__ import annotations

import time

import httpx
import pytest

from superlite import ObjectModel, Selector
from superlite.errors import RemoteError, SwapError
from superlite.testing.http import free_port
from superlite.testing.services import require_service
from superlite.testing.workers import running_stack


def scrape(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    return {name: float(value) for name, value in (line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))}


def scrape_once_counted(port: int, counts: dict[str, float], timeout: float = 60) -> dict[str, float]:
    """A scrape once each of ``counts`` reached its value: a task is counted (Celery's ``task_postrun``)
    after its result was stored, so its caller can have the answer first."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(port)
        if all(samples.get(name, 0) >= value for name, value in counts.items()) or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def test_worker_exports_task_metrics_of_all_its_processes(tmp_path):
    broker = require_service("redis")
    port = free_port()
    with running_stack("sqlite", broker, tmp_path, "--concurrency", "2", "--metrics-port", str(port), count=1) as stack:
        with stack.connect() as db:
            db.apply(ObjectModel("inc", object=lambda x: x + 1))
            db.apply(ObjectModel("boom", object=lambda x: 1 / 0))
            handles = [db.compute(Selector("model", "inc"), "predict", (i,), wait=False) for i in range(12)]
            assert [h.result(60) for h in handles] == [i + 1 for i in range(12)]
            with pytest.raises(RemoteError):
                db.load("model", "boom").predict(1)
        counts = {
            'superlite_worker_tasks_total{model="inc",status="success",version="0"}': 12,
            'superlite_worker_tasks_total{model="boom",status="error",version="0"}': 1,
            'superlite_worker_task_duration_seconds_count{model="inc",status="success",version="0"}': 12,
        }
        samples = scrape_once_counted(port, counts)
        assert {name: samples.get(name) for name in counts} == counts
        pids = {p for p in stack.workers[0].pids() if p != stack.workers[0].pid}
        assert len(pids) == 2


def test_worker_exports_model_loads_and_swaps(tmp_path):
    broker = require_service("redis")
    port = free_port()
    follow = ("--concurrency", "1", "--follow", "model:*@production", "--heartbeat", "0.2", "--poll", "0.05")
    with running_stack("sqlite", broker, tmp_path, *follow, "--metrics-port", str(port), count=1) as stack:
        with stack.connect() as db:
            db.apply(ObjectModel("inc", object=lambda x: x + 1, warmup=[1]))
            db.apply(ObjectModel("inc", object=lambda x: 1 / x, warmup=[0]))
            deadline = time.monotonic() + 60
            while not db.workers():  # a move waits only for followers whose status row is there
                assert time.monotonic() < deadline, "the worker never wrote its status row"
                time.sleep(0.05)
            db.set_alias("model", "inc", "production", version=0)
            with pytest.raises(SwapError, match="ZeroDivisionError"):
                db.set_alias("model", "inc", "production", version=1)
            assert db.load("model", "inc@production").predict(1) == 2
        samples = scrape(port)
        assert samples['superlite_swaps_total{result="ready"}'] >= 1
        assert samples['superlite_swaps_total{result="failed"}'] >= 1
        assert samples["superlite_model_load_seconds_count"] >= 2
        assert samples["superlite_model_load_seconds_sum"] > 0
