"""Fixtures: every store test runs on mongomock, and on a real server when one is named.

``SUPERLITE_TEST_MONGODB_URI`` (e.g. ``mongodb://localhost:27017/superlite_test?replicaSet=rs0``
``&directConnection=true`` after ``docker compose up mongodb``) adds the ``mongodb`` variant of
each test. Without it that variant skips: no MongoDB server can run on CI machines, so this
skip is expected and ``SUPERLITE_REQUIRE_SERVICES`` does not turn it into a failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from mongo_support import server_uri
from superlite_mongodb.artifacts import GridFSArtifactStore
from superlite_mongodb.connection import (
    MongoConnection,
    forget_mongomock,
    open_connection,
)
from superlite_mongodb.metadata import MongoMetadataStore


@dataclass
class Backend:
    """One database for one test: its URI, an open connection and a collection prefix of its own."""

    uri: str
    connection: MongoConnection
    prefix: str

    def metadata_store(self) -> MongoMetadataStore:
        """A metadata store on this test's collections."""
        return MongoMetadataStore(self.connection, prefix=self.prefix)

    def artifact_store(self) -> GridFSArtifactStore:
        """A GridFS store on this test's bucket."""
        return GridFSArtifactStore(self.connection, bucket=f"{self.prefix}artifacts")


@contextmanager
def _mongomock_backend() -> Iterator[Backend]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    connection = open_connection(f"mongomock://{name}")
    give_back = connection.leases.take()
    yield Backend(f"mongomock://{name}", connection, "superlite_")
    give_back()
    forget_mongomock(name)


@pytest.fixture
def mongomock_backend() -> Iterator[Backend]:
    """A fresh mongomock database of its own, with superlite's default collection prefix (as ``connect`` uses)."""
    with _mongomock_backend() as backend:
        yield backend


@pytest.fixture(params=["mongomock", "mongodb"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """A fresh, empty database for each test: a new mongomock name, or new collections on a server."""
    token = uuid.uuid4().hex[:12]
    if request.param == "mongomock":
        with _mongomock_backend() as backend:
            yield backend
        return
    uri = server_uri()
    connection = open_connection(uri)
    give_back = connection.leases.take()
    prefix = f"t{token}_"
    yield Backend(uri, connection, prefix)
    for collection in connection.database.list_collection_names():
        if collection.startswith(prefix):
            connection.database.drop_collection(collection)
    give_back()


@pytest.fixture
def metadata_store(backend: Backend) -> Iterator[MongoMetadataStore]:
    """The contract suite's metadata store, on a fresh database."""
    store = backend.metadata_store()
    yield store
    store.close()


@pytest.fixture
def artifact_store(backend: Backend) -> Iterator[GridFSArtifactStore]:
    """The contract suite's artifact store, on a fresh database."""
    store = backend.artifact_store()
    yield store
    store.close()


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
