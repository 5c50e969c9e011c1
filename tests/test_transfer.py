"""Export, import and copy between databases: a portable archive, checked before anything is written."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import superlite
from superlite import ObjectModel
from superlite.errors import IntegrityError, VersionConflictError
from superlite.testing.cli import run_cli
from superlite.testing.databases import isolated_database


def scale(x: float) -> float:
    return 3 * x


@pytest.fixture
def source(tmp_path: Path) -> Iterator[superlite.Datalayer]:
    """A SQLite database with two versions of ``m`` (the second with a numpy artifact) and metadata."""
    with superlite.connect(f"sqlite:///{tmp_path / 'dev.db'}", broker=None) as db:
        db.apply(ObjectModel("m", object=scale))
        db.apply(ObjectModel("m", object=np.arange(4.0), method="__getitem__", description="lookup", tags={"team": "nlp"}))
        yield db


@pytest.fixture(params=["postgresql", "mongomock", "sqlite"])
def target_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "mongomock":
        yield f"mongomock://target-{uuid.uuid4().hex[:8]}"
        return
    with isolated_database(request.param, tmp_path / "target") as uri:
        yield uri


def test_a_version_travels_with_its_uuid_artifacts_and_metadata(source: superlite.Datalayer, target_uri: str, tmp_path: Path) -> None:
    archive = tmp_path / "m-v1.slz"
    written = source.export("model", "m", archive, version=1)
    assert [(r["identifier"], r["version"]) for r in written] == [("m", 1)]
    with superlite.connect(target_uri, broker=None) as target:
        added = target.import_(archive)
        assert [r["uuid"] for r in added] == [source.record("model", "m", 1).uuid]
        assert target.show("model", "m") == [1]
        assert target.load("model", "m").predict(2) == 2.0
        assert target.record("model", "m").info == {"description": "lookup", "tags": {"team": "nlp"}}
        assert target.import_(archive) == []  # the same again: nothing to add


def test_all_versions_and_the_cli_copy(source: superlite.Datalayer, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'prod.db'}"
    copied = run_cli("copy", "model", "m", "--from", source.settings.uri, "--to", target, "--all-versions")
    assert copied.returncode == 0, copied.stderr
    assert [(r["identifier"], r["version"]) for r in json.loads(copied.stdout)] == [("m", 0), ("m", 1)]
    with superlite.connect(target, broker=None) as db:
        assert db.load("model", "m", version=0).predict(2) == 6


def test_cli_export_then_import(source: superlite.Datalayer, tmp_path: Path) -> None:
    archive = tmp_path / "m.slz"
    exported = run_cli("export", "model", "m", "-o", str(archive), uri=source.settings.uri)
    assert exported.returncode == 0, exported.stderr
    target = f"sqlite:///{tmp_path / 'other.db'}"
    imported = run_cli("import", str(archive), uri=target)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)[0]["version"] == 1
    missing = run_cli("export", "model", "nope", "-o", str(tmp_path / "x.slz"), uri=source.settings.uri)
    assert missing.returncode == 1 and "nope" in missing.stderr


def test_a_damaged_artifact_is_refused_and_nothing_written(source: superlite.Datalayer, tmp_path: Path) -> None:
    archive = tmp_path / "m.slz"
    source.export("model", "m", archive, all_versions=True)
    damaged = tmp_path / "damaged.slz"
    with tarfile.open(archive) as original, tarfile.open(damaged, "w") as copy:
        for member in original.getmembers():
            data = original.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.startswith("artifacts/") and member.name.endswith(source.record("model", "m", 1).artifacts[0].digest):
                data = bytes([data[0] ^ 1]) + data[1:]
            member.size = len(data)
            copy.addfile(member, io.BytesIO(data))
    with superlite.connect(f"sqlite:///{tmp_path / 'clean.db'}", broker=None) as target:
        with pytest.raises(IntegrityError, match="damaged"):
            target.import_(damaged)
        assert target.show() == {}


def test_a_taken_version_is_a_clear_clash(source: superlite.Datalayer, tmp_path: Path) -> None:
    archive = tmp_path / "m.slz"
    source.export("model", "m", archive, all_versions=True)
    with superlite.connect(f"sqlite:///{tmp_path / 'busy.db'}", broker=None) as target:
        target.apply(ObjectModel("m", object=lambda x: x))
        with pytest.raises(VersionConflictError, match="version 0 already exists in the target"):
            target.import_(archive)
        assert target.show("model", "m") == [0]


def test_not_an_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.slz"
    with tarfile.open(bogus, "w"):
        pass
    with superlite.connect(f"sqlite:///{tmp_path / 'x.db'}", broker=None) as db, pytest.raises(IntegrityError, match="not a superlite archive"):
        db.import_(bogus)
