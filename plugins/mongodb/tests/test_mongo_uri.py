"""Opening URIs: schemes registered, database names required, unreachable servers fail fast."""

from __future__ import annotations

import socket

import pytest
from mongo_support import record
from superlite_mongodb.connection import forget_mongomock

from superlite.config import Settings
from superlite.errors import ConfigurationError, StoreUnavailableError
from superlite.stores.registry import DATABASES, open_database


def test_schemes_are_registered_by_entry_point():
    schemes = DATABASES.names()
    for scheme in ("mongodb", "mongodb+srv", "mongomock"):
        assert schemes[scheme] == "superlite_mongodb.stores:open_mongo_stores"


def test_mongodb_uri_without_database_is_refused():
    with pytest.raises(ConfigurationError, match="names no database"):
        open_database(Settings(uri="mongodb://localhost:27017"))


def test_mongomock_uri_without_name_is_refused():
    with pytest.raises(ConfigurationError, match="needs a name"):
        open_database(Settings(uri="mongomock://"))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_server_raises_store_unavailable_with_password_masked():
    uri = f"mongodb://alice:s3cret@127.0.0.1:{_closed_port()}/db"
    with pytest.raises(StoreUnavailableError) as caught:
        open_database(Settings(uri=uri))
    assert "s3cret" not in str(caught.value)
    assert "alice:***@" in str(caught.value)


def test_same_mongomock_name_is_the_same_database_in_one_process():
    first = open_database(Settings(uri="mongomock://shared-name-test"))
    second = open_database(Settings(uri="mongomock://shared-name-test"))
    other = open_database(Settings(uri="mongomock://another-name-test"))
    first.metadata.insert(record("m"))
    assert second.metadata.versions("model", "m") == [0]
    assert other.metadata.versions("model", "m") == []
    for bundle in (first, second, other):
        bundle.metadata.close()
        bundle.artifacts.close()
    forget_mongomock("shared-name-test")
    forget_mongomock("another-name-test")
    fresh = open_database(Settings(uri="mongomock://shared-name-test"))
    assert fresh.metadata.versions("model", "m") == []
    forget_mongomock("shared-name-test")
