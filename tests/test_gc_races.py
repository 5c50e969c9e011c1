"""Garbage collection and remove racing apply, forced step by step, on every SQL database and ``file://``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import superlite
from superlite.testing.gc_contract import GarbageCollectionContract


class TestSQLStoresCollectGarbageSafely(GarbageCollectionContract):
    """SQLite, PostgreSQL and MariaDB, artifacts in the database."""

    @pytest.fixture
    def db(self, db_uri: str) -> Iterator[superlite.Datalayer]:
        """A Datalayer on the test's database."""
        with superlite.connect(db_uri, broker=None) as datalayer:
            yield datalayer


class TestFileArtifactsCollectGarbageSafely(GarbageCollectionContract):
    """Records in SQLite, artifacts in a ``file://`` directory."""

    @pytest.fixture
    def db(self, tmp_path: Path) -> Iterator[superlite.Datalayer]:
        """A Datalayer on a new SQLite file, with artifacts in a new directory."""
        uri = f"sqlite:///{tmp_path / 'records.db'}"
        with superlite.connect(uri, artifacts=f"file://{tmp_path / 'artifacts'}", broker=None) as datalayer:
            yield datalayer
