"""Hot swap in one process: follow specs, a follower's readiness, two-phase moves, refusals, timeouts.

The follower here runs in the caller's own Datalayer (what each worker process runs); the
same flows on real workers are in tests/compute/test_hotswap_workers.py.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

import superlite
from superlite import ObjectModel
from superlite.components.reference import Selector
from superlite.compute.follower import Follower
from superlite.errors import ConfigurationError, SwapError
from superlite.registry.follow import FollowSpec, VersionPolicy
from superlite.stores.base import WorkerStatus


@pytest.fixture(params=["sqlite", "mongomock"])
def db(request: pytest.FixtureRequest, tmp_path) -> Iterator[superlite.Datalayer]:
    """A Datalayer with in-process compute and short swap polls, on SQLite and on mongomock."""
    uri = f"sqlite:///{tmp_path / 'swap.db'}" if request.param == "sqlite" else f"mongomock://swap-{uuid.uuid4().hex[:8]}"
    with superlite.connect(uri, broker=None, swap_timeout=60.0, swap_poll=0.01) as datalayer:
        yield datalayer


def tag(name: str):
    return lambda x: (name, x)


def follower(db: superlite.Datalayer, *specs: str, policy: str = "latest:1") -> Follower:
    return Follower(
        db, [FollowSpec.parse(s) for s in specs], VersionPolicy.parse(policy),
        poll_interval=0.01, heartbeat_interval=0.5, release_after=0.0, worker_id="test:1",
    )


@pytest.fixture
def running(db: superlite.Datalayer) -> Iterator[Follower]:
    """A started follower of ``model:m@production``, stopped after the test."""
    f = follower(db, "model:m@production")
    f.start()
    yield f
    f.stop()


def test_follow_specs_and_policies() -> None:
    spec = FollowSpec.parse("model:sent*@production")
    assert (spec.type_id, spec.pattern, spec.alias, spec.is_glob) == ("model", "sent*", "production", True)
    assert spec.matches("model", "sentiment", "production") and not spec.matches("model", "sentiment", "staging")
    assert not spec.matches("listener", "sentiment") and str(spec) == "model:sent*@production"
    assert FollowSpec.parse("model:m").alias is None
    for bad in ("m", "model:", "model:m@Prod", ":m"):
        with pytest.raises(ConfigurationError, match="--follow"):
            FollowSpec.parse(bad)
    assert VersionPolicy.parse("latest:2").choose([3, 0, 1]) == [1, 3]
    assert VersionPolicy.parse("latest").choose([0, 1]) == [1]
    assert VersionPolicy.parse("all").choose([1, 0]) == [0, 1]
    assert VersionPolicy.parse("versions:3,4").choose([1, 3, 5]) == [3]
    for bad in ("latest:0", "every", "versions:", "versions:a", "all:2"):
        with pytest.raises(ConfigurationError, match="--policy"):
            VersionPolicy.parse(bad)


def test_policy_and_latest_decide_what_is_loaded(db: superlite.Datalayer) -> None:
    versions = [db.apply(ObjectModel("m", object=tag(f"v{i}"))).version for i in range(3)]
    db.apply(ObjectModel("other", object=tag("o")))
    uuids = {v: db.record("model", "m", version=v).uuid for v in versions}
    f = follower(db, "model:m", policy="latest:2")
    f.sync()
    assert set(db.executor.models.keys()) == {uuids[1], uuids[2]}
    f = follower(db, "model:*@latest")
    assert set(f.wanted()) == {uuids[2], db.record("model", "other").uuid}


def test_status_lists_the_follower_with_its_loaded_models(db: superlite.Datalayer, running: Follower) -> None:
    db.apply(ObjectModel("m", object=tag("v0"), warmup=[1, 2]))
    db.set_alias("model", "m", "production", version=0)
    running.sync()
    running.beat()
    [worker] = db.workers()
    target = db.record("model", "m", version=0).uuid
    assert worker["id"] == "test:1" and worker["alive"] and worker["follow"] == ["model:m@production"]
    assert worker["targets"][target]["state"] == "ready"
    assert [(m["identifier"], m["version"]) for m in worker["loaded"]] == [("m", 0)]
    running.stop()
    assert db.workers() == []


def test_a_move_waits_until_followers_are_ready(db: superlite.Datalayer, running: Follower) -> None:
    for i in range(2):
        db.apply(ObjectModel("m", object=tag(f"v{i}")))
    db.set_alias("model", "m", "production", version=0)
    new = db.record("model", "m", version=1).uuid
    db.set_alias("model", "m", "production", version=1)
    # The move returned only after the follower reported the new version ready: it is loaded here.
    assert new in db.executor.models.keys()
    assert "ready on test:1" in db.alias_history("model", "m", "production")[0]["why"]
    assert db.load("model", "m@production").predict(5) == ("v1", 5)


def test_a_failing_warm_up_refuses_the_move_and_records_why(db: superlite.Datalayer, running: Follower) -> None:
    db.apply(ObjectModel("m", object=tag("v0")))
    db.apply(ObjectModel("m", object=lambda x: x["missing"], warmup=[{}]))
    db.set_alias("model", "m", "production", version=0)
    with pytest.raises(SwapError, match="KeyError") as refused:
        db.set_alias("model", "m", "production", version=1, why="retrained")
    assert list(refused.value.failures) == ["test:1"]
    assert db.aliases("model", "m")["production"]["version"] == 0
    latest = db.alias_history("model", "m", "production")[0]
    assert latest["action"] == "set-refused" and "KeyError" in latest["why"] and latest["why"].startswith("retrained")
    assert db.load("model", "m@production").predict(1) == ("v0", 1)
    # A canary of the same version is refused the same way; a later good version moves.
    with pytest.raises(SwapError):
        db.start_canary("model", "m", "production", version=1, percent=10)
    db.apply(ObjectModel("m", object=tag("v2"), warmup=[0]))
    assert db.set_alias("model", "m", "production", version=2)["version"] == 2


def test_dead_and_slow_workers_do_not_block_a_move(db: superlite.Datalayer) -> None:
    for i in range(2):
        db.apply(ObjectModel("m", object=tag(f"v{i}")))
    db.set_alias("model", "m", "production", version=0)
    now = datetime.now(UTC)
    base = WorkerStatus("ghost:1", "ghost", 1, follow=("model:m@production",), heartbeat_interval=0.5)
    db.metadata.write_worker(replace(base, heartbeat_at=now - timedelta(minutes=5)))  # dead long ago
    assert [w["id"] for w in db.workers(include_stale=True)] == ["ghost:1"] and db.workers() == []
    db.set_alias("model", "m", "production", version=1)  # nobody live follows: one phase
    assert db.alias_history("model", "m", "production")[0]["why"] is None

    slow = replace(base, id="slow:2", heartbeat_at=datetime.now(UTC) + timedelta(hours=1))  # live, never ready
    db.metadata.write_worker(slow)
    with superlite.connect(db.settings.uri, broker=None, swap_timeout=0.2, swap_poll=0.01) as impatient:
        moved = impatient.set_alias("model", "m", "production", version=0)
    assert moved["version"] == 0
    assert "timed out waiting for slow:2" in db.alias_history("model", "m", "production")[0]["why"]
    assert db.metadata.pending_moves() == []


def test_released_once_no_longer_followed(db: superlite.Datalayer) -> None:
    for i in range(2):
        db.apply(ObjectModel("m", object=tag(f"v{i}")))
    old, new = (db.record("model", "m", version=v).uuid for v in (0, 1))
    db.set_alias("model", "m", "production", version=0)
    f = follower(db, "model:m@production")
    f.sync()
    assert db.executor.models.keys() == [old]
    # This follower never wrote a heartbeat, so the move does not wait for it (one phase).
    db.set_alias("model", "m", "production", version=1)
    f.sync()
    assert db.executor.models.keys() == [new]


def test_two_movers_at_once_leave_a_consistent_history(db: superlite.Datalayer, running: Follower) -> None:
    for i in range(3):
        db.apply(ObjectModel("m", object=tag(f"v{i}")))
    db.set_alias("model", "m", "production", version=0)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def move(version: int) -> None:
        barrier.wait()
        try:
            db.set_alias("model", "m", "production", version=version)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(v,)) for v in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = list(reversed(db.alias_history("model", "m", "production")))
    assert [h["action"] for h in history] == ["set"] * 3
    for earlier, later in zip(history, history[1:]):
        assert (later["before"]["version"], later["before"]["revision"]) == (earlier["after"]["version"], earlier["after"]["revision"])


def test_alias_refresh_reuses_a_read_state_but_not_after_an_own_move(db: superlite.Datalayer) -> None:
    for i in range(3):
        db.apply(ObjectModel("m", object=tag(f"v{i}")))
    db.set_alias("model", "m", "production", version=0)
    with superlite.connect(db.settings.uri, broker=None, alias_refresh=3600.0) as cached:
        proxy = cached.load("model", "m@production")
        assert proxy.predict(1) == ("v0", 1)
        db.set_alias("model", "m", "production", version=1)  # another Datalayer moves it
        assert proxy.predict(1) == ("v0", 1)  # seen within alias_refresh, not at once
        cached.set_alias("model", "m", "production", version=2)  # its own move is seen at once
        assert proxy.predict(1) == ("v2", 1)



GATE, ENTERED = threading.Event(), threading.Event()


def held(x):
    """Answers ``("v0", x)`` once GATE opens (stored by reference: the events are this module's)."""
    ENTERED.set()
    GATE.wait(60)
    return ("v0", x)


def test_a_running_call_keeps_its_version_until_it_ends(db: superlite.Datalayer) -> None:
    GATE.clear()
    ENTERED.clear()
    db.apply(ObjectModel("m", object=held))
    db.apply(ObjectModel("m", object=tag("v1")))
    old = db.record("model", "m", version=0).uuid
    db.set_alias("model", "m", "production", version=0)
    f = follower(db, "model:m@production")
    f.sync()
    handle = db.compute(Selector("model", "m", alias="production"), "predict", (1,), wait=False)
    assert ENTERED.wait(60)
    db.set_alias("model", "m", "production", version=1)
    f.sync()
    assert old in db.executor.models.keys()  # a call still runs on it: not released
    GATE.set()
    assert handle.result(60) == ("v0", 1)
    f.sync()
    assert old not in db.executor.models.keys()
