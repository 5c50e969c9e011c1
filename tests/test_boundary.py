"""The validated boundary: names, uuids and references refused at the call, store failures as
superlite errors, a closed Datalayer, a failed apply, and the CLI's safe output."""

from __future__ import annotations

import json
import math
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import superlite
from superlite import ObjectModel
from superlite.cli.app import one_line
from superlite.common.arguments import check_identifier, check_type_id, check_uuid
from superlite.errors import (
    ArgumentTypeError,
    DatalayerClosedError,
    IntegrityError,
    InvalidArgumentError,
    NotFoundError,
    StorageFullError,
    StoreDataError,
)
from superlite.stores.sql.engine import create_store_engine, reporting
from superlite.stores.sql.schema import artifact_chunks, artifacts, components
from superlite.testing.cli import run_cli
from superlite.testing.services import missing


def double(x: float) -> float:
    """A model."""
    return 2 * x


# -- names, uuids, references ---------------------------------------------------------------------

def test_type_id_and_uuid_checks() -> None:
    """A type_id has no ':' (references end the type there); a uuid is a UUID, returned canonical."""
    with pytest.raises(InvalidArgumentError, match="type_id must not contain ':'"):
        check_type_id("a:b")
    assert check_identifier("a:b") == "a:b"
    upper = str(uuid.uuid4()).upper()
    assert check_uuid(upper) == upper.lower()
    with pytest.raises(InvalidArgumentError, match="uuid must be a UUID string"):
        check_uuid("nope")
    with pytest.raises(ArgumentTypeError, match="uuid must be a UUID string, not 5"):
        check_uuid(5)


# -- a closed Datalayer, a failed apply -----------------------------------------------------------


def test_every_public_method_says_the_datalayer_is_closed(db_uri: str) -> None:
    """After close(), calls raise DatalayerClosedError (close itself may be repeated)."""
    db = superlite.connect(db_uri, broker=None)
    proxy = db.apply(ObjectModel("m", object=double, serve=True))
    db.close()
    db.close()
    calls = [
        lambda: db.apply(ObjectModel("n", object=double)), lambda: db.load("model", "m"), lambda: db.show(),
        lambda: db.record("model", "m"), lambda: db.remove("model", "m"), lambda: db.changes(),
        lambda: db.set_alias("model", "m", "production", 0), lambda: db.compute(proxy.reference, "predict", (1,)),
        lambda: proxy.predict(1), lambda: db.collect_garbage(), lambda: db.type_ids(),
    ]
    for call in calls:
        with pytest.raises(DatalayerClosedError, match="is closed; open another"):
            call()


def test_a_failed_apply_leaves_the_component_as_it_was(db: superlite.Datalayer) -> None:
    """Neither a signature inferred on the way nor a Datalayer is left behind by a refused apply."""
    model = ObjectModel("m", object=double, example=2.0, tags={"stage": 3})  # type: ignore[dict-item]
    with pytest.raises(ArgumentTypeError, match="tags must be"):
        db.apply(model)
    assert model.signature is None and model.version is None and model.uuid is None
    assert db.show() == {}


def test_a_proxy_from_another_database_is_refused_and_stays_attached_to_its_own(db: superlite.Datalayer, tmp_path: Path) -> None:
    """Applying another Datalayer's proxy fails with NotFoundError and does not re-attach it."""
    with superlite.connect(f"sqlite:///{tmp_path / 'other.db'}", broker=None) as other:
        proxy = other.apply(ObjectModel("m", object=double, serve=True))
        before = (proxy.uuid, proxy.version)
        with pytest.raises(NotFoundError, match="was stored in another database"):
            db.apply(proxy)
        assert proxy.db is other and (proxy.uuid, proxy.version) == before
        assert proxy.predict(3) == 6
    assert db.show() == {}


# -- store failures -------------------------------------------------------------------------------


def test_truncated_and_shortened_artifacts_are_integrity_errors(db_uri: str) -> None:
    """A missing or shortened chunk in a SQL store is an IntegrityError, never deserialized."""
    with superlite.connect(db_uri, broker=None) as db:
        db.apply(ObjectModel("short", object=double))
        db.apply(ObjectModel("gone", object=lambda x: x + 1))
        short, gone = (db.record("model", name).artifacts[0].digest for name in ("short", "gone"))
        engine = create_store_engine(db_uri)
        with engine.begin() as connection:
            short_key, gone_key = (
                connection.scalar(sa.select(artifacts.c.chunks_key).where(artifacts.c.sha256 == digest)) for digest in (short, gone)
            )
            connection.execute(artifact_chunks.update().where(artifact_chunks.c.sha256 == short_key).values(data=b"\x80\x04"))
            connection.execute(artifact_chunks.delete().where(artifact_chunks.c.sha256 == gone_key))
        engine.dispose()
        for name in ("short", "gone"):
            with pytest.raises(IntegrityError, match="is truncated"):
                db.load("model", name, lazy=False)
        assert db.show("model") == ["gone", "short"]


def test_a_damaged_record_is_a_store_data_error(tmp_path: Path) -> None:
    """A record whose JSON no longer parses is named as damaged, not a JSONDecodeError."""
    uri = f"sqlite:///{tmp_path / 'damaged.db'}"
    with superlite.connect(uri, broker=None) as db:
        db.apply(ObjectModel("m", object=double))
        engine = create_store_engine(uri)
        with engine.begin() as connection:
            connection.execute(components.update().values(params=sa.literal_column("'{not json'")))
        engine.dispose()
        with pytest.raises(StoreDataError, match="is damaged: its JSON cannot be read"):
            db.load("model", "m", lazy=False)


def test_driver_errors_become_superlite_errors_in_one_place(tmp_path: Path) -> None:
    """``reporting`` turns a refused value and a full disk into superlite errors."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(StoreDataError, match="refused a value"), reporting(engine):
        raise sa.exc.DataError("INSERT", {}, ValueError("value too long for type character varying(255)"))
    with pytest.raises(StoreDataError, match="refused a value"), reporting(engine):
        raise OverflowError("Python int too large to convert to C long")
    with pytest.raises(StorageFullError, match="out of disk space"), reporting(engine):
        raise sa.exc.OperationalError("INSERT", {}, Exception("database or disk is full"))
    engine.dispose()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB tmpfs, mounted for this test (needs root, as in the test container)."""
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mountpoint)], capture_output=True, text=True)
    if mounted.returncode != 0:
        missing(f"cannot mount a small tmpfs to fill ({mounted.stderr.strip()}); run the tests as root")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def test_a_full_disk_says_so_for_the_file_store_and_sqlite(small_disk: Path, tmp_path: Path) -> None:
    """ENOSPC from the file store and SQLite's "database or disk is full" are one StorageFullError.

    Both on a real, full filesystem (a 2 MiB tmpfs), nothing injected.
    """
    payload = ObjectModel("big", object=_Padded(3 * 2**20))
    with superlite.connect(f"sqlite:///{tmp_path / 'meta.db'}", artifacts=f"file://{small_disk / 'artifacts'}", broker=None) as db:
        with pytest.raises(StorageFullError, match="no space left .*artifact store"):
            db.apply(payload)
        assert db.show() == {}
        assert not list((small_disk / "artifacts").rglob("*.partial"))
    with superlite.connect(f"sqlite:///{small_disk / 'all.db'}", broker=None) as db:
        with pytest.raises(StorageFullError, match="out of disk space"):
            db.apply(payload)
        assert db.show() == {}


class _Padded:
    """A callable model object whose pickle is about ``size`` bytes."""

    def __init__(self, size: int) -> None:
        self.pad = bytes(size)

    def __call__(self, x: object) -> object:
        return x


# -- the CLI's output ----------------------------------------------------------------------------


def test_cli_escapes_control_characters_in_errors() -> None:
    """An identifier in a message can neither clear the terminal nor forge a line."""
    line = one_line(NotFoundError("no model named 'a\x1b[2J\nerror: forged'"))
    assert line == "no model named 'a\\x1b[2J"
    assert "\x1b" not in one_line(NotFoundError("x\x1b[2Jy")) and "\\x1b[2J" in one_line(NotFoundError("x\x1b[2Jy"))


def test_cli_refuses_a_bad_identifier_with_one_escaped_line(tmp_path: Path) -> None:
    """A name with control characters is refused by the boundary, and printed escaped."""
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    with superlite.connect(uri, broker=None) as db:
        db.apply(ObjectModel("m", object=double))
    result = run_cli("show", "model", "a\x1b[2Jb", uri=uri)
    assert result.returncode == 1
    assert "\x1b" not in result.stderr and "\\x1b[2Jb" in result.stderr
    assert result.stderr.count("\n") == 1


def test_cli_predict_prints_strict_json(tmp_path: Path) -> None:
    """NaN and infinities in an answer print as null: the output parses as strict JSON."""
    uri = f"sqlite:///{tmp_path / 'nan.db'}"
    with superlite.connect(uri, broker=None) as db:
        db.apply(ObjectModel("nan", object=lambda x: [math.nan, x, {"inf": math.inf}]))
    result = run_cli("predict", "nan", "--input", "1", uri=uri)
    assert result.returncode == 0, result.stderr

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not strict JSON")

    assert json.loads(result.stdout, parse_constant=refuse) == [None, 1, {"inf": None}]
