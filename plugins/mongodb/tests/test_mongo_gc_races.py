"""Garbage collection and remove racing apply, forced step by step, on MongoDB with GridFS and with ``file://``.

Runs on mongomock always and on the server named by ``SUPERLITE_TEST_MONGODB_URI`` when set
(its ``superlite_*`` collections are dropped before and after each test).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mongo_support import server_uri
from superlite_mongodb.connection import forget_mongomock, open_connection

import superlite
from superlite.testing.gc_contract import GarbageCollectionContract


def _drop_superlite_collections(uri: str) -> None:
    connection = open_connection(uri)
    for name in connection.database.list_collection_names():
        if name.startswith("superlite_"):
            connection.database.drop_collection(name)
    connection.client.close()


@pytest.fixture(params=["mongomock", "mongodb"])
def mongo_uri(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database URI with no superlite data in it."""
    if request.param == "mongomock":
        name = f"gc-{uuid.uuid4().hex[:12]}"
        yield f"mongomock://{name}"
        forget_mongomock(name)
        return
    uri = server_uri()
    _drop_superlite_collections(uri)
    yield uri
    _drop_superlite_collections(uri)


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
