"""Hot swap on real workers: status rows, refused warm-ups, a worker killed mid-swap, no failed requests.

Workers follow ``model:*@production`` with fast heartbeats (0.2 s, so a killed one is stale after
0.6 s) and polls. Tests wait for conditions (a worker row, a marker file), never for time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import remote_models

import superlite
from superlite import ObjectModel
from superlite.errors import SwapError
from superlite.testing.workers import CALL_TIMEOUT, Stack, worker_env

FOLLOW = ("--concurrency", "1", "--follow", "model:*@production", "--heartbeat", "0.2", "--poll", "0.05",
          "--release-after", "1")


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def wait_for(condition: Callable[[], object], what: str, timeout: float = CALL_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def following_stack(make_stack: Callable[..., Stack], broker: str, count: int = 2, kind: str = "sqlite") -> Stack:
    stack = make_stack(broker, *FOLLOW, count=count, kind=kind)
    with superlite.connect(stack.uri, broker=None) as db:
        wait_for(lambda: len(db.workers()) == count, f"{count} worker rows")
    return stack


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_status_lists_live_workers_and_what_they_hold(make_stack, redis_broker: str, kind: str) -> None:
    stack = following_stack(make_stack, redis_broker, kind=kind)
    name = unique("m")
    with stack.connect() as db:
        db.apply(ObjectModel(name, object=remote_models.Tag("v0"), warmup=[0]))
        db.set_alias("model", name, "production", version=0)
        target = db.record("model", name, version=0).uuid
        workers = db.workers()
    pool_pids = {w.pid: w for w in stack.workers}
    assert {row["pid"] for row in workers} <= {pid for w in stack.workers for pid in w.pids()} - set(pool_pids)
    for row in workers:
        assert row["alive"] and row["follow"] == ["model:*@production"] and row["queues"] == [stack.queue]
        assert row["targets"][target]["state"] == "ready"
        assert [(m["identifier"], m["version"]) for m in row["loaded"]] == [(name, 0)]
    printed = subprocess.run(
        [sys.executable, "-m", "superlite", "--uri", stack.uri, "status"], env=worker_env(), capture_output=True,
        text=True, check=True,
    )
    assert sorted(row["id"] for row in json.loads(printed.stdout)) == sorted(row["id"] for row in workers)


def test_a_warm_up_that_raises_keeps_the_old_version_serving(make_stack, redis_broker: str) -> None:
    stack = following_stack(make_stack, redis_broker)
    name = unique("m")
    with stack.connect() as db:
        db.apply(ObjectModel(name, object=remote_models.Tag("v0")))
        db.apply(ObjectModel(name, object=remote_models.fail, warmup=["probe"]))
        db.set_alias("model", name, "production", version=0)
        with pytest.raises(SwapError, match="bad input 'probe'") as refused:
            db.set_alias("model", name, "production", version=1, why="new weights")
        assert refused.value.failures  # the first worker to fail refuses the move
        assert db.aliases("model", name)["production"]["version"] == 0
        latest = db.alias_history("model", name, "production")[0]
        assert latest["action"] == "set-refused" and "ValueError: bad input 'probe'" in latest["why"]
        proxy = db.load("model", name, alias="production")
        assert [proxy.predict(i)[0] for i in range(4)] == ["v0"] * 4


def test_a_worker_killed_during_a_swap_does_not_block_it(make_stack, redis_broker: str, tmp_path: Path) -> None:
    stack = following_stack(make_stack, redis_broker)
    name = unique("m")
    marker = tmp_path / "stalled"
    with stack.connect(swap_timeout=CALL_TIMEOUT) as db:
        db.apply(ObjectModel(name, object=remote_models.Tag("v0")))
        db.apply(ObjectModel(name, object=remote_models.StallFirstCall(str(marker), "v1"), warmup=[0]))
        db.set_alias("model", name, "production", version=0)
        outcome: list[object] = []
        mover = threading.Thread(target=lambda: outcome.append(db.set_alias("model", name, "production", version=1)))
        mover.start()
        wait_for(marker.exists, "a worker stalling in the warm-up")
        wait_for(lambda: marker.read_text().strip(), "the stalled worker's pid")
        stalled = stack.worker_of(int(marker.read_text()))
        stalled.kill()
        mover.join(CALL_TIMEOUT * 2)
        assert not mover.is_alive() and outcome and outcome[0]["version"] == 1  # type: ignore[index]
        survivor = next(w for w in stack.workers if w is not stalled)
        why = db.alias_history("model", name, "production")[0]["why"]
        assert "ready on" in why and "timed out" not in why
        assert {row["pid"] for row in db.workers()} <= survivor.pids()
        assert db.load("model", name, alias="production").predict(0)[0] == "v1"


def test_no_request_fails_while_the_alias_moves_under_load(make_stack, redis_broker: str) -> None:
    stack = following_stack(make_stack, redis_broker)
    name = unique("m")
    with stack.connect() as db:
        for tag in ("v0", "v1", "v2"):
            db.apply(ObjectModel(name, object=remote_models.Tag(tag), warmup=[0]))
        db.set_alias("model", name, "production", version=0)
        stop = threading.Event()
        answers: list[str] = []
        failures: list[BaseException] = []
        lock = threading.Lock()

        def client() -> None:
            with stack.connect() as own:
                proxy = own.load("model", name, alias="production")
                while not stop.is_set():
                    try:
                        answer = proxy.predict(0)[0]
                    except BaseException as exc:  # noqa: BLE001 - counted
                        with lock:
                            failures.append(exc)
                    else:
                        with lock:
                            answers.append(answer)

        clients = [threading.Thread(target=client) for _ in range(3)]
        for thread in clients:
            thread.start()
        moves = [  # each with a version that must answer after it (clients see a move within alias_refresh)
            (lambda: db.set_alias("model", name, "production", version=1), "v1"),
            (lambda: db.start_canary("model", name, "production", version=2, percent=50), "v2"),
            (lambda: db.promote("model", name, "production"), "v2"),
            (lambda: db.rollback("model", name, "production"), "v1"),
            (lambda: db.set_alias("model", name, "production", version=0), "v0"),
        ]
        try:
            for move, expected in moves:
                seen = len(answers)
                wait_for(lambda: len(answers) > seen + 3, "requests between two moves")
                seen = len(answers)
                move()
                wait_for(lambda: expected in answers[seen:], f"an answer from {expected} after the move")
        finally:
            stop.set()
            for thread in clients:
                thread.join(CALL_TIMEOUT)
    assert failures == []
    assert {"v0", "v1", "v2"} <= set(answers)


def test_sticky_keys_and_rollback_through_following_workers(make_stack, redis_broker: str) -> None:
    stack = following_stack(make_stack, redis_broker)
    name = unique("m")
    with stack.connect() as db:
        for tag in ("v0", "v1"):
            db.apply(ObjectModel(name, object=remote_models.Tag(tag)))
        db.set_alias("model", name, "production", version=0)
        db.start_canary("model", name, "production", version=1, percent=50)
        proxy = db.load("model", name, alias="production")
        sides = {key: proxy.predict(0, key=key)[0] for key in (f"user-{i}" for i in range(12))}
        assert set(sides.values()) == {"v0", "v1"}  # 12 keys at 50 %: both sides (fixed hashes)
        for key, side in sides.items():
            assert [proxy.predict(0, key=key)[0] for _ in range(3)] == [side] * 3
        db.rollback("model", name, "production")  # ends the canary
        assert {proxy.predict(0, key=key)[0] for key in sides} == {"v0"}
        db.set_alias("model", name, "production", version=1)
        db.rollback("model", name, "production")  # back to the previous target
        assert db.aliases("model", name)["production"]["version"] == 0
        assert {proxy.predict(0)[0] for _ in range(4)} == {"v0"}


def test_a_threads_worker_reports_from_its_main_process(make_stack, redis_broker: str) -> None:
    stack = make_stack(redis_broker, "--pool", "threads", "--concurrency", "2", "--heartbeat", "0.2")
    with stack.connect() as db:
        wait_for(lambda: len(db.workers()) == 1, "the worker's row")
        [row] = db.workers()
        assert row["pid"] == stack.workers[0].pid and row["follow"] == [] and row["policy"] == "latest:1"
    stack.stop()
    with superlite.connect(stack.uri, broker=None) as db:
        assert db.workers(include_stale=True) == []  # a clean stop deletes the row


def test_preload_loads_models_when_the_worker_starts(make_stack, redis_broker: str) -> None:
    prefix = unique("pre")
    stack = make_stack(redis_broker, "--concurrency", "1", "--heartbeat", "0.2", "--poll", "0.05", count=0)
    with superlite.connect(stack.uri, broker=None) as db:
        db.apply(ObjectModel(f"{prefix}-a", object=remote_models.Tag("a"), warmup=[0]))
        db.apply(ObjectModel(f"{prefix}-b", object=remote_models.Tag("b")))
        db.apply(ObjectModel(unique("other"), object=remote_models.Tag("c")))
        stack.start("--concurrency", "1", "--heartbeat", "0.2", "--poll", "0.05", "--preload", f"model:{prefix}-*")
        wait_for(lambda: [row for row in db.workers() if len(row["loaded"]) == 2], "two preloaded models")
        (row,) = db.workers()
    assert sorted(m["identifier"] for m in row["loaded"]) == [f"{prefix}-a", f"{prefix}-b"]  # before any call
    assert all(target["state"] == "ready" for target in row["targets"].values())


def test_preload_refuses_an_entry_without_a_type(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "superlite", "worker", "--uri", f"sqlite:///{tmp_path}/x.db", "--broker",
         "redis://127.0.0.1:1/0", "--preload", "sentiment"],
        env=worker_env(), capture_output=True, text=True,
    )
    assert result.returncode == 2 and "--preload" in result.stderr and "model:sentiment" in result.stderr
