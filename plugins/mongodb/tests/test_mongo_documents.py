"""Records read back exactly as written, and the stored document stays readable in MongoDB tools."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest
from mongo_support import blob, record

from superlite.errors import SerializationError


def test_a_record_reads_back_exactly(backend):
    store = backend.metadata_store()
    _, ref = blob(b"weights")
    written = dataclasses.replace(
        record("m", artifacts=(ref,), dependencies=("a", "b")),
        params={"threshold": 0.25, "labels": ["neg", "pos"], "nested": {"k": None}},
        created_at=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc),
    )
    store.insert(written)
    assert store.get_by_uuid(written.uuid) == written


def test_created_at_is_a_date_in_the_document(backend):
    store = backend.metadata_store()
    written = record("m")
    store.insert(written)
    document = backend.connection.database[f"{backend.prefix}components"].find_one({"_id": written.uuid})
    assert isinstance(document["created_at"], datetime)
    assert store.get_by_uuid(written.uuid).created_at.tzinfo is not None


def test_parameters_must_be_json_values(backend):
    """As on SQL: a parameter that is not a JSON value is refused, and nothing is stored."""
    store = backend.metadata_store()
    with pytest.raises(SerializationError, match="JSON"):
        store.insert(dataclasses.replace(record("m"), params={"bad": {1, 2}}))
    assert store.type_ids() == []


def test_a_damaged_record_document_is_a_store_data_error() -> None:
    from superlite_mongodb.documents import from_document

    from superlite.errors import StoreDataError

    with pytest.raises(StoreDataError, match="record document 'abc' is damaged .*KeyError"):
        from_document({"_id": "abc", "type_id": "model", "identifier": "m"})
