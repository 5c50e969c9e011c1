"""Every ``superlite`` command, run as a user runs it: a subprocess with exit codes and output."""

from __future__ import annotations

import json
import sqlite3

import pytest
import sqlalchemy as sa

import superlite
from superlite import ObjectModel
from superlite.errors import NoDatabaseError, NotFoundError
from superlite.stores.sql.engine import create_store_engine
from superlite.testing.cli import run_cli
from superlite.testing.databases import isolated_database


@pytest.fixture
def filled(db_uri):
    with superlite.connect(db_uri) as db:
        # lambdas are stored by value, so the CLI's process can load them without this module
        db.apply(ObjectModel("inc", object=lambda x: x + 1))
        db.apply(ObjectModel("inc", object=lambda x: x + 2))
        db.apply(ObjectModel("boom", object=lambda x: [][x]))
    return db_uri


def test_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("show", "info", "remove", "predict", "db", "changes", "worker", "queue"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["show", "info", "remove", "predict", "db", "changes"])
def test_each_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "Usage: superlite" in result.stdout


def test_show_all_levels(filled):
    assert json.loads(run_cli("show", uri=filled).stdout) == {"model": ["boom", "inc"]}
    assert json.loads(run_cli("show", "model", uri=filled).stdout) == ["boom", "inc"]
    assert json.loads(run_cli("--uri", filled, "show", "model", "inc").stdout) == [0, 1]


def test_info_prints_record_json(filled):
    result = run_cli("info", "model", "inc", "--version", "0", uri=filled)
    assert result.returncode == 0
    record = json.loads(result.stdout)
    assert record["identifier"] == "inc" and record["version"] == 0
    assert record["class_path"] == "superlite.components.object_model:ObjectModel"
    assert record["artifacts"][0]["digest"].startswith("blake3:")


def test_predict_latest_and_version(filled):
    assert json.loads(run_cli("predict", "inc", "--input", "40", uri=filled).stdout) == 42
    assert json.loads(run_cli("predict", "inc", "--input", "40", "--version", "0", uri=filled).stdout) == 41


def test_predict_prints_arrays_tensors_bytes_and_sets_as_json(db_uri):
    with superlite.connect(db_uri) as db:
        db.apply(ObjectModel("arr", object=lambda x: __import__("numpy").array([x * 9.0, 4.0])))
        db.apply(ObjectModel("ten", object=lambda x: __import__("torch").tensor([[x, 1]])))
        db.apply(ObjectModel("mix", object=lambda x: {"b": b"hi", "s": {3, x}, "n": __import__("numpy").int64(x)}))
    assert json.loads(run_cli("predict", "arr", "--input", "2", uri=db_uri).stdout) == [18.0, 4.0]
    assert json.loads(run_cli("predict", "ten", "--input", "2", uri=db_uri).stdout) == [[2, 1]]
    assert json.loads(run_cli("predict", "mix", "--input", "1", uri=db_uri).stdout) == {"b": "aGk=", "s": [1, 3], "n": 1}


def test_predict_model_error_is_one_line(filled):
    result = run_cli("predict", "boom", "--input", "3", uri=filled)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: IndexError: list index out of range"


def test_predict_bad_json_is_usage_error(filled):
    result = run_cli("predict", "inc", "--input", "{nope", uri=filled)
    assert result.returncode == 2 and "not valid JSON" in result.stderr


def test_unknown_model_exits_nonzero_without_traceback(filled):
    result = run_cli("predict", "nope", "--input", "1", uri=filled)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no model named 'nope'; existing models: boom, inc"
    assert "Traceback" not in result.stderr


def test_debug_shows_traceback(filled):
    result = run_cli("--debug", "info", "model", "nope", uri=filled)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_remove_one_version_then_all(filled):
    result = run_cli("remove", "model", "inc", "--version", "0", uri=filled)
    assert result.returncode == 0 and "removed model 'inc' version 0" in result.stdout
    assert json.loads(run_cli("show", "model", "inc", uri=filled).stdout) == [1]
    assert run_cli("remove", "model", "inc", uri=filled).returncode == 0
    assert json.loads(run_cli("show", "model", uri=filled).stdout) == ["boom"]


def test_unknown_scheme_lists_installed():
    result = run_cli("--uri", "nosuchdb://x", "show")
    assert result.returncode == 1
    assert "no database store is installed for URI scheme 'nosuchdb'" in result.stderr
    assert "sqlite" in result.stderr


@pytest.mark.parametrize("command", [["show"], ["info", "model", "m"], ["remove", "model", "m"], ["predict", "m", "--input", "1"]])
def test_read_commands_do_not_create_a_missing_sqlite_database(tmp_path, command):
    path = tmp_path / "not" / "here.db"
    result = run_cli("--uri", f"sqlite:///{path}", *command)
    assert result.returncode == 1
    assert f"error: no superlite database at sqlite:///{path} (the file {path} does not exist)" in result.stderr
    assert not (tmp_path / "not").exists()


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_read_commands_do_not_create_superlite_tables_on_a_server(tmp_path, kind):
    with isolated_database(kind, tmp_path) as uri:
        result = run_cli("show", uri=uri)
        assert result.returncode == 1 and "(it has no superlite tables)" in result.stderr
        engine = create_store_engine(uri)
        try:
            assert sa.inspect(engine).get_table_names() == []
        finally:
            engine.dispose()


def test_connect_with_create_false_refuses_a_missing_database(tmp_path):
    with pytest.raises(NoDatabaseError, match="no superlite database at") as caught:
        superlite.connect(f"sqlite:///{tmp_path}/x.db", create=False)
    assert isinstance(caught.value, NotFoundError) and not (tmp_path / "x.db").exists()
    with superlite.connect(f"sqlite:///{tmp_path}/x.db"):
        pass
    with superlite.connect(f"sqlite:///{tmp_path}/x.db", create=False) as db:
        assert db.show() == {}


def test_show_of_an_unknown_type_lists_the_known_ones(filled):
    result = run_cli("show", "modle", uri=filled)
    assert result.returncode == 1
    assert result.stderr.startswith("error: unknown component type 'modle' (did you mean 'model'?); known types: ")
    assert json.loads(run_cli("show", "model", uri=filled).stdout) == ["boom", "inc"]


def test_a_plain_path_as_uri_suggests_sqlite(tmp_path):
    result = run_cli("--uri", str(tmp_path / "x.db"), "show")
    assert result.returncode == 1
    assert f"for a path on disk write sqlite:///{tmp_path / 'x.db'}" in result.stderr


def defined_in_this_test_module(x):
    return x


def test_model_whose_code_cannot_be_imported_names_the_module(db_uri):
    """dill stores importable functions by reference: the CLI's process cannot import this test module."""
    with superlite.connect(db_uri) as db:
        db.apply(ObjectModel("by_reference", object=defined_in_this_test_module))
    result = run_cli("predict", "by_reference", "--input", "1", uri=db_uri)
    assert result.returncode == 1
    assert "cannot be imported here: No module named 'test_cli'" in result.stderr


def test_db_current_and_upgrade(tmp_path):
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = run_cli("--uri", uri, "db", "current")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["current: (empty database)", "head:    0006", "pending: 0001 0002 0003 0004 0005 0006"]
    result = run_cli("db", "upgrade", "--uri", uri)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "upgraded from (empty database) to 0006"
    assert run_cli("--uri", uri, "db", "upgrade").stdout.splitlines()[0] == "already at 0006"
    assert "pending: (none)" in run_cli("--uri", uri, "db", "current").stdout


def test_db_current_of_a_newer_database_is_one_line_error(tmp_path):
    uri = f"sqlite:///{tmp_path / 'newer.db'}"
    superlite.connect(uri).close()
    with sqlite3.connect(tmp_path / "newer.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    result = run_cli("--uri", uri, "db", "current")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "revision 9999" in result.stderr


def test_changes_prints_json_lines(filled):
    lines = [json.loads(line) for line in run_cli("changes", uri=filled).stdout.splitlines()]
    assert [(e["kind"], e["identifier"], e["version"]) for e in lines] == [
        ("apply", "inc", 0), ("apply", "inc", 1), ("apply", "boom", 0)
    ]
    later = run_cli("changes", "--since", str(lines[0]["id"]), "--limit", "1", uri=filled).stdout.splitlines()
    assert [json.loads(line)["id"] for line in later] == [lines[1]["id"]]
