"""superlite.connect() on MongoDB: apply, version, load, remove; and with file:// artifacts.

Runs on ``mongomock://`` always and on the server named by ``SUPERLITE_TEST_MONGODB_URI`` when
set (its ``superlite_*`` collections are dropped before and after each test).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from mongo_support import server_uri
from superlite_mongodb.connection import forget_mongomock, open_connection

import superlite
from superlite import ObjectModel, RemoteModel
from superlite.errors import NoDatabaseError, NotFoundError


def double(x):
    return 2 * x


def triple(x):
    return 3 * x


class Adder:
    """A callable whose content differs by ``n``, so each instance is a new version."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, x):
        return x + self.n


class Weights:
    """A callable carrying a few megabytes, so its artifact spans many GridFS chunks."""

    def __init__(self, size: int) -> None:
        self.blob = os.urandom(size)

    def __call__(self, x):
        return len(self.blob) + x


def _drop_superlite_collections(uri: str) -> None:
    connection = open_connection(uri)
    for name in connection.database.list_collection_names():
        if name.startswith("superlite_"):
            connection.database.drop_collection(name)
    connection.client.close()


@pytest.fixture(params=["mongomock", "mongodb"])
def uri(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database URI with no superlite data in it."""
    if request.param == "mongomock":
        name = f"e2e-{request.node.name.split('[')[0][-40:]}"
        forget_mongomock(name)
        yield f"mongomock://{name}"
        forget_mongomock(name)
        return
    uri = server_uri()
    _drop_superlite_collections(uri)
    yield uri
    _drop_superlite_collections(uri)


def test_create_false_refuses_a_database_without_superlite_collections(uri):
    with pytest.raises(NoDatabaseError, match="it has no superlite collections"):
        superlite.connect(uri, create=False)
    with superlite.connect(uri) as db:
        db.apply(ObjectModel("m", object=double))
    with superlite.connect(uri, create=False) as db:
        assert db.show() == {"model": ["m"]}


def test_apply_version_load_remove(uri):
    with superlite.connect(uri) as db:
        first = db.apply(ObjectModel("m", object=double))
        again = db.apply(ObjectModel("m", object=double))
        second = db.apply(ObjectModel("m", object=triple))
        assert (first.version, again.version, again.uuid, second.version) == (0, 0, first.uuid, 1)
        assert db.show() == {"model": ["m"]}
        assert db.show("model", "m") == [0, 1]

        latest = db.load("model", "m")
        assert isinstance(latest, RemoteModel) and latest.predict(5) == 15
        assert db.load("model", "m", version=0).predict(5) == 10
        assert db.load("model", "m", uuid=second.uuid).version == 1
        assert db.load("model", "m", uuid=first.uuid, lazy=False).predict(1) == 2

        db.remove("model", "m", version=0)
        assert db.show("model", "m") == [1]
        with pytest.raises(NotFoundError):
            db.load("model", "m", version=0)
        assert db.artifacts.list() == db.metadata.referenced_artifacts()


def test_a_second_connect_to_the_same_uri_sees_the_data(uri):
    with superlite.connect(uri) as writer:
        applied = writer.apply(ObjectModel("shared", object=double))
    with superlite.connect(uri) as reader:
        assert reader.show("model", "shared") == [0]
        assert reader.load("model", "shared", uuid=applied.uuid).predict(4) == 8


def test_concurrent_applies_get_distinct_versions(uri):
    """Threads sharing one Datalayer (mongomock is per process; a server also covers processes)."""
    with superlite.connect(uri) as db:
        with ThreadPoolExecutor(8) as pool:
            applied = list(pool.map(lambda n: db.apply(ObjectModel("racy", object=Adder(n))), range(8)))
        assert sorted(m.version for m in applied) == list(range(8))
        assert db.show("model", "racy") == list(range(8))


def test_a_multi_chunk_artifact_round_trips_and_is_freed(uri):
    with superlite.connect(uri) as db:
        model = ObjectModel("big", object=Weights(6 * 1024 * 1024))
        db.apply(model)
        assert db.load("model", "big", lazy=False).predict(1) == 6 * 1024 * 1024 + 1
        db.remove("model", "big")
        assert db.artifacts.list() == set()


def test_mongodb_metadata_with_file_artifacts(uri, tmp_path):
    with superlite.connect(uri, artifacts=f"file://{tmp_path}") as db:
        applied = db.apply(ObjectModel("mixed", object=double))
        assert db.load("model", "mixed", uuid=applied.uuid).predict(3) == 6
        (sha,) = {a.digest for a in db.metadata.get_by_uuid(applied.uuid).artifacts}
        assert db.artifacts.exists(sha)
        assert not type(db.artifacts).__module__.startswith("superlite_mongodb")
        db.remove("model", "mixed")
        assert not db.artifacts.exists(sha)
    connection = open_connection(uri)
    assert not any(name.startswith("superlite_artifacts") for name in connection.database.list_collection_names())
    connection.client.close()
