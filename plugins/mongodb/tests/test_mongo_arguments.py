"""Versions and chunk sizes checked at the boundary, on mongomock (and a server when one is named)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import superlite
from superlite.testing.argument_contract import ArgumentContract


class TestMongoArguments(ArgumentContract):
    """MongoDB gives the same answer as SQL to a bad version or chunk size."""

    @pytest.fixture
    def db(self, mongo_uri: str) -> Iterator[superlite.Datalayer]:
        """A Datalayer on the test's database."""
        with superlite.connect(mongo_uri, broker=None) as datalayer:
            yield datalayer
