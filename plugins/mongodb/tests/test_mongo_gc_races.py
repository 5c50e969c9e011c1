"""Garbage collection and remove racing apply, forced step by step, on MongoDB with GridFS and with ``file://``.

Runs on mongomock always and on the server named by ``SUPERLITE_TEST_MONGODB_URI`` when set
(see the ``mongo_uri`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import superlite
from superlite.testing.gc_contract import GarbageCollectionContract


class TestGridFSCollectsGarbageSafely(GarbageCollectionContract):
    """Records in MongoDB, artifacts in GridFS."""

    @pytest.fixture
    def db(self, mongo_uri: str) -> Iterator[superlite.Datalayer]:
        """A Datalayer on the test's database."""
        with superlite.connect(mongo_uri, broker=None) as datalayer:
            yield datalayer


class TestMongoWithFileArtifactsCollectsGarbageSafely(GarbageCollectionContract):
    """Records in MongoDB, artifacts in a ``file://`` directory."""

    @pytest.fixture
    def db(self, mongo_uri: str, tmp_path: Path) -> Iterator[superlite.Datalayer]:
        """A Datalayer on the test's database, with artifacts in a new directory."""
        with superlite.connect(mongo_uri, artifacts=f"file://{tmp_path}", broker=None) as datalayer:
            yield datalayer
