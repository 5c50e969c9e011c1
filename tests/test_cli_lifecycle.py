"""``superlite alias|canary|promote|rollback``, run as a user runs them."""

from __future__ import annotations

import json

import pytest

import superlite
from superlite import ObjectModel
from superlite.testing.cli import run_cli


@pytest.fixture
def two_versions(tmp_path) -> str:
    uri = f"sqlite:///{tmp_path}/cli.db"
    with superlite.connect(uri) as db:
        db.apply(ObjectModel("inc", object=lambda x: x + 1))
        db.apply(ObjectModel("inc", object=lambda x: x + 2))
    return uri


@pytest.mark.parametrize("command", [("alias", "set"), ("alias", "show"), ("alias", "remove"), ("alias", "history"), ("canary",), ("promote",), ("rollback",)])
def test_each_lifecycle_command_has_help(command: tuple[str, ...]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0 and "Usage: superlite" in result.stdout


def test_set_canary_promote_rollback_history(two_versions: str) -> None:
    uri = two_versions
    assert json.loads(run_cli("alias", "set", "inc", "production", "0", "--why", "launch", uri=uri).stdout)["version"] == 0
    canary = json.loads(run_cli("canary", "inc", "production", "1", "--percent", "10", uri=uri).stdout)
    assert canary["canary"] == {"version": 1, "uuid": canary["canary"]["uuid"], "percent": 10}
    assert json.loads(run_cli("promote", "inc", "production", uri=uri).stdout)["version"] == 1
    assert json.loads(run_cli("rollback", "inc", "production", uri=uri).stdout)["version"] == 0
    shown = json.loads(run_cli("alias", "show", "inc", uri=uri).stdout)
    assert list(shown) == ["production"] and shown["production"]["version"] == 0
    history = json.loads(run_cli("alias", "history", "inc", "production", uri=uri).stdout)
    assert [entry["action"] for entry in history] == ["rollback", "promote", "canary", "set"]
    assert history[-1]["why"] == "launch"
    removed = run_cli("alias", "remove", "inc", "production", uri=uri)
    assert removed.returncode == 0 and "removed alias 'production'" in removed.stdout
    assert json.loads(run_cli("alias", "show", "inc", uri=uri).stdout) == {}


def test_errors_are_one_line_with_exit_code_1(two_versions: str) -> None:
    result = run_cli("promote", "inc", "production", uri=two_versions)
    assert result.returncode == 1 and result.stderr.startswith("error: model 'inc' has no alias 'production'")
    result = run_cli("canary", "inc", "production", "1", "--percent", "150", uri=two_versions)
    assert result.returncode == 2 and "150 is not in the range 1<=x<=99" in result.stderr
    result = run_cli("alias", "set", "inc", "latest", "0", uri=two_versions)
    assert result.returncode == 1 and "'latest' is built in" in result.stderr


def test_status_and_a_refused_move_on_the_command_line(two_versions: str) -> None:
    from datetime import UTC, datetime, timedelta

    from superlite.stores.base import WorkerStatus

    uri = two_versions
    assert json.loads(run_cli("status", uri=uri).stdout) == []
    with superlite.connect(uri) as db:
        db.set_alias("model", "inc", "production", version=0)
        old = datetime.now(UTC) - timedelta(hours=1)
        db.metadata.write_worker(WorkerStatus("gone:1", "gone", 1, follow=("model:inc@production",), heartbeat_at=old))
        # A live follower whose failure on version 1 answered an earlier move, not the next one,
        # and that never reports again: the next move waits for it until --swap-timeout, then moves.
        target = db.record("model", "inc", version=1).uuid
        live = datetime.now(UTC) + timedelta(hours=1)
        failing = {target: {"state": "failed", "reason": "ValueError: bad weights", "moves": []}}
        db.metadata.write_worker(WorkerStatus("live:2", "live", 2, follow=("model:inc@production",), targets=failing, heartbeat_at=live))
    listed = json.loads(run_cli("status", uri=uri).stdout)
    assert [w["id"] for w in listed] == ["live:2"] and listed[0]["alive"]
    assert [w["id"] for w in json.loads(run_cli("status", "--all", uri=uri).stdout)] == ["gone:1", "live:2"]
    moved = run_cli("alias", "set", "inc", "production", "1", "--swap-timeout", "0.3", uri=uri)
    assert moved.returncode == 0, moved.stderr
    assert "timed out waiting for live:2" in json.loads(run_cli("alias", "history", "inc", uri=uri).stdout)[0]["why"]


@pytest.mark.parametrize("bad", [("--follow", "sentiment"), ("--policy", "newest")])
def test_worker_refuses_bad_follow_options(bad: tuple[str, ...]) -> None:
    result = run_cli("worker", "--broker", "redis://127.0.0.1:1/0", *bad)
    assert result.returncode == 1 and bad[0] in result.stderr
