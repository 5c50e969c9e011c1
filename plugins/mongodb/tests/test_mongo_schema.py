"""The schema version recorded in ``<prefix>meta``, and refusing a newer one."""

from __future__ import annotations

import pytest
from mongo_support import record
from superlite_mongodb.migrations import STEPS

from superlite.errors import SchemaVersionError

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
