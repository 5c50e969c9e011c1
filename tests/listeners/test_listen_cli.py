"""``superlite listen`` as a separate process: outputs follow rows written elsewhere, and the model alias."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

import superlite
from superlite import Listener, ObjectModel
from superlite.stores.sql.engine import normalize_url

#: Seconds to wait for the listening process to catch up (generous for slow machines; not a timing claim).
WAIT = 60.0


def eventually(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after :data:`WAIT` seconds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT} s: {what}")
        time.sleep(0.05)


def cli(*args: str, uri: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "superlite", "--uri", uri, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def listening(db_uri: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A ``superlite listen`` process on the test database, stopped with SIGTERM afterwards."""
    log = (tmp_path / "listen.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "superlite", "--uri", db_uri, "listen", "--interval", "0.05"],
        stdout=log, stderr=subprocess.STDOUT, env={k: v for k, v in os.environ.items() if k != "SUPERLITE_BROKER"},
    )
    yield process
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0, (tmp_path / "listen.log").read_text()
    log.close()


def test_listen_follows_rows_and_the_model_alias(db_uri: str, listening: subprocess.Popen[bytes]) -> None:
    app = sa.create_engine(normalize_url(db_uri), poolclass=NullPool)
    with app.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE items (id INTEGER PRIMARY KEY, x INTEGER)")
        connection.exec_driver_sql("INSERT INTO items (id, x) VALUES (1, 10)")
    with superlite.connect(db_uri, broker=None) as db:
        db.apply(ObjectModel("inc", object=lambda x: x + 1))
        db.apply(Listener("inc-x", model="inc@latest", table="items", key="x", backfill=False))
        eventually(lambda: db.outputs("inc-x") == {1: 11}, "back-fill by superlite listen")

        with app.begin() as connection:
            connection.exec_driver_sql("INSERT INTO items (id, x) VALUES (2, 20)")
            connection.exec_driver_sql("UPDATE items SET x = 11 WHERE id = 1")
        eventually(lambda: db.outputs("inc-x") == {1: 12, 2: 21}, "insert and update from another connection")

        db.apply(ObjectModel("inc", object=lambda x: x + 100))  # "latest" moves: recompute in the background
        eventually(lambda: db.outputs("inc-x") == {1: 111, 2: 120}, "recompute by the new latest version")
        with app.connect() as connection:
            versions = connection.exec_driver_sql(f"SELECT DISTINCT model_version FROM {_quoted(app, '_outputs__inc-x')}").scalars().all()
        assert versions == [1]

        with app.begin() as connection:
            connection.exec_driver_sql("DELETE FROM items WHERE id = 2")
        eventually(lambda: db.outputs("inc-x") == {1: 111}, "delete from another connection")
    app.dispose()

    shown = json.loads(cli("listeners", "--json", uri=db_uri).stdout)
    assert [(row["listener"], row["model_version"], row["pending"], row["errors"]) for row in shown] == [("inc-x", 1, 0, 0)]
    table = cli("listeners", uri=db_uri)
    assert table.returncode == 0 and "inc-x" in table.stdout and "pending" in table.stdout


def _quoted(app: sa.Engine, name: str) -> str:
    return app.dialect.identifier_preparer.quote(name)
