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
