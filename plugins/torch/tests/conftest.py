"""Fixtures for the torch plugin's tests: a fresh database of each backend per test.

``db_uri``: every SQL backend (SQLite, PostgreSQL, MariaDB), reachable from other processes.
``db``: a Datalayer on each of those, plus GridFS on ``mongomock://`` when superlite-mongodb is
installed (in-process only, so tests that start subprocesses take ``db_uri``).
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import superlite
from superlite.testing.databases import isolated_database

SQL_BACKENDS = ["sqlite", "postgresql", "mariadb"]


@pytest.fixture(params=SQL_BACKENDS)
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URI of a new, empty database of each SQL backend, dropped after the test."""
    with isolated_database(request.param, tmp_path) as uri:
        yield uri


@pytest.fixture(params=[*SQL_BACKENDS, "gridfs"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[superlite.Datalayer]:
    """A Datalayer on a fresh database of each backend, GridFS (mongomock) included."""
    if request.param != "gridfs":
        with isolated_database(request.param, tmp_path) as uri, superlite.connect(uri, broker=None) as datalayer:
            yield datalayer
        return
    if importlib.util.find_spec("superlite_mongodb") is None:
        pytest.skip(reason="superlite-mongodb is not installed (pip install -e plugins/mongodb)")
    from superlite_mongodb.connection import forget_mongomock

    name = f"torch-{uuid.uuid4().hex[:12]}"
    with superlite.connect(f"mongomock://{name}", broker=None) as datalayer:
        yield datalayer
    forget_mongomock(name)
