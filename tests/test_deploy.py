"""Deployment files: declared aliases and canaries, checked, applied, stored and rolled back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import superlite
from superlite import ObjectModel
from superlite.errors import ConfigurationError, NotFoundError
from superlite.testing.cli import run_cli


def one(x):
    return 1


def two(x):
    return 2


@pytest.fixture
def models(db: superlite.Datalayer) -> superlite.Datalayer:
    db.apply(ObjectModel("sentiment", object=one))
    db.apply(ObjectModel("sentiment", object=two))
    return db


def write(path: Path, spec: dict) -> Path:
    path.write_text(json.dumps(spec))
    return path


SPEC = {
    "name": "prod",
    "models": {"sentiment": {"aliases": {"production": 0, "staging": 1}, "canary": {"alias": "production", "version": 1, "percent": 10}}},
}


def test_check_lists_moves_and_changes_nothing(models: superlite.Datalayer, tmp_path: Path) -> None:
    planned = models.deploy(write(tmp_path / "d.json", SPEC), check=True)
    assert planned["version"] is None
    assert planned["moves"] == [
        {"model": "sentiment", "alias": "production", "action": "set", "version": 0},
        {"model": "sentiment", "alias": "production", "action": "canary", "version": 1, "percent": 10},
        {"model": "sentiment", "alias": "staging", "action": "set", "version": 1},
    ]
    assert models.aliases("model", "sentiment") == {}


def test_deploy_applies_stores_and_is_idempotent(models: superlite.Datalayer) -> None:
    first = models.deploy(SPEC)
    assert (first["deployment"], first["version"], len(first["moves"])) == ("prod", 0, 3)
    aliases = models.aliases("model", "sentiment")
    assert (aliases["production"]["version"], aliases["production"]["canary"]["percent"], aliases["staging"]["version"]) == (0, 10, 1)
    again = models.deploy(SPEC)
    assert (again["version"], again["moves"]) == (0, [])
    assert models.alias_history("model", "sentiment")[0]["why"] == "deployment 'prod'"


def test_a_deployment_can_be_rolled_back(models: superlite.Datalayer) -> None:
    models.deploy({"name": "prod", "models": {"sentiment": {"aliases": {"production": 0}}}})
    second = models.deploy({"name": "prod", "models": {"sentiment": {"aliases": {"production": 1}}}})
    assert second["version"] == 1 and models.aliases("model", "sentiment")["production"]["version"] == 1
    back = models.rollback_deployment("prod")
    assert back["moves"] == [{"model": "sentiment", "alias": "production", "action": "set", "version": 0}]
    assert models.aliases("model", "sentiment")["production"]["version"] == 0
    with pytest.raises(NotFoundError, match=r"deployment 'prod' has no version 7; versions: \[0, 1, 2\]"):
        models.rollback_deployment("prod", version=7)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"models": {"sentiment": {"aliases": {"production": "0"}}}}, r"models.sentiment.aliases.production: Input should be a valid integer"),
        ({"models": {"sentiment": {"alias": {}}}}, r"models.sentiment.alias: Extra inputs are not permitted"),
        ({"models": {"sentiment": {"aliases": {"Prod": 0}}}}, r"alias names match"),
        ({"models": {"sentiment": {"aliases": {"a": 0}, "canary": {"alias": "b", "version": 1, "percent": 5}}}}, r"alias 'b' is not among"),
        ({"models": {"sentiment": {"aliases": {"a": 0}, "canary": {"alias": "a", "version": 1, "percent": 100}}}}, r"percent: Input should be less than or equal to 99"),
        ([], r"file: Input should be a valid dictionary"),
    ],
)
def test_bad_files_are_refused_naming_the_problem(models: superlite.Datalayer, spec: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        models.deploy(spec, check=True)  # type: ignore[arg-type]


def test_unknown_versions_change_nothing(models: superlite.Datalayer) -> None:
    with pytest.raises(NotFoundError):
        models.deploy({"models": {"sentiment": {"aliases": {"production": 0, "staging": 9}}}})
    assert models.aliases("model", "sentiment") == {}


def test_cli_deploy_check_apply_and_rollback(db_uri: str, tmp_path: Path) -> None:
    with superlite.connect(db_uri) as db:
        db.apply(ObjectModel("sentiment", object=lambda x: 1))
        db.apply(ObjectModel("sentiment", object=lambda x: 2))
    yaml_file = tmp_path / "deploy.yaml"
    yaml_file.write_text("name: prod\nmodels:\n  sentiment:\n    aliases:\n      production: 1\n")
    checked = run_cli("deploy", str(yaml_file), "--check", uri=db_uri)
    assert checked.returncode == 0 and json.loads(checked.stdout)["version"] is None
    applied = json.loads(run_cli("deploy", str(yaml_file), uri=db_uri).stdout)
    assert applied["version"] == 0 and applied["moves"][0]["version"] == 1
    missing = run_cli("deploy", str(tmp_path / "nope.json"), uri=db_uri)
    assert missing.returncode == 1 and "cannot read deployment file" in missing.stderr
    usage = run_cli("deploy", uri=db_uri)
    assert usage.returncode == 2 and "give a deployment FILE, or --rollback NAME" in usage.stderr
    rollback = run_cli("deploy", "--rollback", "prod", uri=db_uri)
    assert rollback.returncode == 1 and "no earlier version" in rollback.stderr
