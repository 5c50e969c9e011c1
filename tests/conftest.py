"""Fixtures shared by the core tests: one isolated database per test, on every SQL backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import superlite
from superlite.testing.databases import isolated_database

SQL_BACKENDS = ["sqlite", "postgresql", "mariadb"]


@pytest.fixture(params=SQL_BACKENDS)
def db_uri(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The URI of a fresh, empty database of each SQL backend (dropped after the test)."""
    with isolated_database(request.param, tmp_path) as uri:
        yield uri


@pytest.fixture
def db(db_uri: str) -> Iterator[superlite.Datalayer]:
    """A Datalayer on a fresh database, with in-process compute."""
    with superlite.connect(db_uri, broker=None) as datalayer:
        yield datalayer


@pytest.fixture(autouse=True)
def _no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their database and broker explicitly; a developer's $SUPERLITE_* must not leak in."""
    for variable in ("SUPERLITE_URI", "SUPERLITE_ARTIFACTS", "SUPERLITE_BROKER"):
        monkeypatch.delenv(variable, raising=False)
