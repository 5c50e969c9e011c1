"""The change feed without transactions: pending events hold readers back; a dead writer's are settled."""

from __future__ import annotations

import time

from mongo_support import record
from superlite_mongodb import changes
from superlite_mongodb.changes import event_document
from superlite_mongodb.documents import to_document


def _pending(backend, kind, document, *, age):
    """Record a pending event as a writer that took an id and then stopped would leave it."""
    meta = backend.connection.database[f"{backend.prefix}meta"]
    counter = meta.find_one({"_id": "changes"})
    number = counter["last"] + 1
    entry = {"id": number, "at": time.time() - age, "event": event_document(kind, document)}
    meta.update_one({"_id": "changes"}, {"$set": {"last": number}, "$push": {"pending": entry}})
    return number


def test_a_pending_event_holds_back_later_ones(backend):
    store = backend.metadata_store()
    store.insert(record("a"))
    first = store.last_change_id()
    held = _pending(backend, "apply", to_document(record("in-flight")), age=0)
    store.insert(record("b"))
    assert [e.identifier for e in store.changes()] == ["a"]
    assert store.last_change_id() == first == held - 1
    store.close()


def test_a_dead_writers_event_is_settled_by_the_record(backend, monkeypatch):
    store = backend.metadata_store()
    components = backend.connection.database[f"{backend.prefix}components"]
    done, lost = record("done"), record("lost")
    components.insert_one(to_document(done))  # the writer died after its change
    _pending(backend, "apply", to_document(done), age=changes.STALE_AFTER + 1)
    _pending(backend, "apply", to_document(lost), age=changes.STALE_AFTER + 1)  # died before it
    store.insert(record("after"))
    assert [(e.kind, e.identifier) for e in store.changes()] == [("apply", "done"), ("apply", "after")]
    assert backend.connection.database[f"{backend.prefix}meta"].find_one({"_id": "changes"})["pending"] == []
    store.close()
