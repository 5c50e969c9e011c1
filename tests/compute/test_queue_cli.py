"""``superlite queue show|purge`` against real brokers (Redis and RabbitMQ), with no worker consuming."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import remote_models

from superlite import ObjectModel
from superlite.testing.services import require_service
from superlite.testing.workers import Stack


def queue_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SUPERLITE_BROKER", "SUPERLITE_URI")}
    return subprocess.run([sys.executable, "-m", "superlite", "queue", *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("service", ["redis", "rabbitmq"])
def test_show_counts_waiting_tasks_and_purge_clears_them(make_stack: Callable[..., Stack], service: str) -> None:
    stack = make_stack(require_service(service), count=0)
    with stack.connect(timeout=30) as db:
        model = db.apply(ObjectModel("pid", object=remote_models.getpid))
        for x in range(3):
            db.compute(model.reference, "predict", (x,), wait=False)
    time.sleep(0.2)
    where = ("--broker", stack.broker, "--queue", stack.queue)

    shown = queue_cli("show", *where)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert (report["queue"], report["waiting"], report["workers"]) == (stack.queue, 3, [])
    if service == "redis":
        assert 0.1 <= report["oldest_waiting_seconds"] < 30
    else:  # RabbitMQ cannot show a message without taking it
        assert report["oldest_waiting_seconds"] is None

    purged = queue_cli("purge", *where)
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.strip() == f"purged 3 task(s) from queue {stack.queue!r}"
    assert json.loads(queue_cli("show", *where).stdout)["waiting"] == 0


def test_queue_commands_need_a_broker() -> None:
    result = queue_cli("show")
    assert result.returncode == 2 and "--broker" in result.stderr
