"""The schema steps recorded in ``<prefix>meta``: upgrading old databases, the lock, refusing a newer one."""

from __future__ import annotations

import time

import pytest
from mongo_support import record
from superlite_mongodb import migrations
from superlite_mongodb.documents import to_document
from superlite_mongodb.metadata import MongoMetadataStore
from superlite_mongodb.migrations import STEPS

import superlite
from superlite.errors import SchemaVersionError, StoreUnavailableError

SCHEMA_VERSION = len(STEPS)


def test_a_new_database_records_the_current_schema(backend):
    backend.metadata_store().close()
    meta = backend.connection.database[f"{backend.prefix}meta"]
    assert meta.find_one({"_id": "schema"})["version"] == SCHEMA_VERSION


def test_reopening_keeps_the_data(backend):
    first = backend.metadata_store()
    first.insert(record("m"))
    first.close()
    second = backend.metadata_store()
    assert second.versions("model", "m") == [0]
    second.close()


def test_a_newer_schema_is_refused_and_left_untouched(backend):
    meta = backend.connection.database[f"{backend.prefix}meta"]
    meta.insert_one({"_id": "schema", "version": SCHEMA_VERSION + 1})
    with pytest.raises(SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 1}"):
        backend.metadata_store()
    assert meta.find_one({"_id": "schema"})["version"] == SCHEMA_VERSION + 1
    assert f"{backend.prefix}components" not in backend.connection.database.list_collection_names()


def _previous_release_database(backend):
    """What the release before schema steps left: version 1, indexed components, no change feed."""
    database = backend.connection.database
    migrations.STEPS[0](database, backend.prefix)
    database[f"{backend.prefix}meta"].insert_one({"_id": "schema", "version": 1})
    old = record("legacy")
    database[f"{backend.prefix}components"].insert_one(to_document(old))
    return old


def test_a_previous_release_database_is_upgraded(backend):
    old = _previous_release_database(backend)
    store = backend.metadata_store()
    try:
        assert store.schema_status().up_to_date and store.schema_status().current == str(SCHEMA_VERSION)
        assert store.get_by_uuid(old.uuid).identifier == "legacy"
        assert store.changes() == []
        store.delete([old.uuid])
        assert [(e.kind, e.uuid) for e in store.changes()] == [("remove", old.uuid)]
    finally:
        store.close()


def test_auto_upgrade_off_opens_and_reports_pending(backend):
    _previous_release_database(backend)
    store = MongoMetadataStore(backend.connection, prefix=backend.prefix, auto_upgrade=False)
    try:
        status = store.schema_status()
        assert (status.current, status.pending) == ("1", ("2", "3", "4"))
        assert store.upgrade().up_to_date
    finally:
        store.close()


def test_connect_refuses_a_database_behind_when_auto_upgrade_is_off(mongomock_backend):
    """Through ``connect``, which uses the default prefix: on a database of its own (the store-level
    refusal, ``test_auto_upgrade_off_opens_and_reports_pending``, runs on a server too)."""
    _previous_release_database(mongomock_backend)
    with pytest.raises(SchemaVersionError, match="superlite db upgrade --uri"):
        superlite.connect(mongomock_backend.uri, auto_upgrade=False)
    with superlite.connect(mongomock_backend.uri) as db:
        assert db.show() == {"model": ["legacy"]}


def test_an_expired_lock_is_taken_over(backend):
    meta = backend.connection.database[f"{backend.prefix}meta"]
    meta.insert_one({"_id": "migration_lock", "owner": "crashed", "expires": time.time() - 1})
    store = backend.metadata_store()
    assert store.schema_status().up_to_date
    assert meta.find_one({"_id": "migration_lock"}) is None
    store.close()


def test_a_held_lock_makes_others_wait(backend, monkeypatch):
    monkeypatch.setattr(migrations, "LOCK_TTL", 0.2)
    meta = backend.connection.database[f"{backend.prefix}meta"]
    meta.insert_one({"_id": "migration_lock", "owner": "busy", "expires": time.time() + 60})
    with pytest.raises(StoreUnavailableError, match="another process has been migrating"):
        backend.metadata_store()
    assert meta.find_one({"_id": "schema"}) is None
