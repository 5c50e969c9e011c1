"""Fixtures for the store tests: a fresh database of each SQL backend per test, and its stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from superlite.config import Settings
from superlite.stores.base import StoreBundle
from superlite.stores.sql import open_sql_stores
from superlite.testing.databases import isolated_database

SQL_BACKENDS = ["sqlite", "postgresql", "mariadb"]


@pytest.fixture(params=SQL_BACKENDS)
def database_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URI of a new, empty database of each SQL backend, dropped after the test."""
    with isolated_database(request.param, tmp_path) as uri:
        yield uri


@pytest.fixture
def sql_stores(database_uri: str) -> Iterator[StoreBundle]:
    """Both SQL stores opened on the test's database, closed afterwards."""
    bundle = open_sql_stores(Settings(uri=database_uri))
    yield bundle
    bundle.metadata.close()
    bundle.artifacts.close()
