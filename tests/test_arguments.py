"""Versions and chunk sizes checked at the boundary, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import superlite
from superlite.testing.argument_contract import ArgumentContract


class TestSQLArguments(ArgumentContract):
    """Every SQL database gives the same answer to a bad version or chunk size."""

    @pytest.fixture
    def db(self, db_uri: str) -> Iterator[superlite.Datalayer]:
        """A Datalayer on the test's database."""
        with superlite.connect(db_uri, broker=None) as datalayer:
            yield datalayer
