"""No half-applied writes are ever visible, and what a crash leaves behind can be repaired.

Inserts are one document (atomic on every deployment). Deletes use a transaction on replica
sets; the tests here that interrupt a delete check the other path, the one standalone servers
and mongomock take, by running on a connection that reports no transactions.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta, timezone

import pytest
from bson import ObjectId
from mongo_support import blob, pieces, record
from superlite_mongodb.connection import MongoConnection
from superlite_mongodb.metadata import MongoMetadataStore

from superlite.errors import IntegrityError, NotFoundError, VersionConflictError


class Interrupted(Exception):
    """Stands for the process dying between two writes."""


def without_transactions(connection: MongoConnection) -> MongoConnection:
    """The same client and database, taking the path of a deployment without transactions."""
    copy = MongoConnection(connection.client, connection.database, False, connection.description)
    copy.leases.take()  # one lease more than the store gives back: closing it leaves the shared client open
    return copy


def test_a_record_and_its_references_are_one_document(backend):
    """The artifact references and dependencies travel inside the component document."""
    store = backend.metadata_store()
    sha, ref = blob(b"weights")
    base = record("base")
    store.insert(base)
    store.insert(record("top", artifacts=(ref,), dependencies=(base.uuid,)))
    components = backend.connection.database[f"{backend.prefix}components"]
    assert components.count_documents({}) == 2
    assert store.artifact_references(sha) == 1
    assert [r.identifier for r in store.dependents([base.uuid])] == ["top"]


def test_a_refused_insert_changes_no_reference_count(backend):
    """A version conflict leaves nothing behind: counts and dependents are as before."""
    store = backend.metadata_store()
    sha, ref = blob(b"weights")
    base = record("base")
    store.insert(base)
    store.insert(record("m", 0))
    with pytest.raises(VersionConflictError):
        store.insert(record("m", 0, artifacts=(ref,), dependencies=(base.uuid,)))
    assert store.artifact_references(sha) == 0
    assert store.referenced_artifacts() == set()
    assert store.dependents([base.uuid]) == []


def test_interrupted_delete_without_transactions_leaves_whole_records_and_finishes_on_retry(backend, monkeypatch):
    """Standalone/mongomock path: dependents go first, so no survivor points at a deleted record."""
    store = MongoMetadataStore(without_transactions(backend.connection), prefix=backend.prefix)
    base = record("base")
    middle = record("middle", dependencies=(base.uuid,))
    top = record("top", dependencies=(middle.uuid,))
    for r in (base, middle, top):
        store.insert(r)
    uuids = [base.uuid, middle.uuid, top.uuid]

    collection = store._components
    real_delete_one = collection.delete_one
    calls = []

    def dies_after_first(*args, **kwargs):
        calls.append(args)
        if len(calls) > 1:
            raise Interrupted
        return real_delete_one(*args, **kwargs)

    monkeypatch.setattr(collection, "delete_one", dies_after_first)
    with pytest.raises(Interrupted):
        store.delete(uuids)
    monkeypatch.undo()

    survivors = [store.get_by_uuid(u) for u in uuids]
    assert survivors == [store.get("model", "base"), store.get("model", "middle"), None]
    for survivor in filter(None, survivors):
        assert all(store.get_by_uuid(d) is not None for d in survivor.dependencies)

    store.delete(uuids)
    assert [store.get_by_uuid(u) for u in uuids] == [None, None, None]
    store.close()


def test_delete_of_several_records_on_this_deployment(backend):
    """Whatever the deployment (transaction or ordered deletes), a delete of several finishes."""
    store = backend.metadata_store()
    base = record("base")
    top = record("top", dependencies=(base.uuid,))
    store.insert(base)
    store.insert(top)
    store.delete([base.uuid, top.uuid])
    assert store.type_ids() == []


def test_upload_that_fails_part_way_leaves_no_chunks(backend):
    """An exception while streaming (here after 34 MB, past GridFS's 32 MB write buffer) aborts."""
    store = backend.artifact_store()
    data = os.urandom(34 * 1024 * 1024)
    sha = hashlib.sha256(data).hexdigest()

    def stream():
        yield from pieces(data, 8 * 1024 * 1024)
        raise Interrupted

    with pytest.raises(Interrupted):
        store.put(sha, stream(), len(data))
    assert not store.exists(sha)
    assert backend.connection.database[f"{backend.prefix}artifacts.chunks"].count_documents({}) == 0


def test_a_stream_of_the_wrong_size_is_refused(backend):
    """A truncated (or overlong) stream stores nothing: the size is checked before the commit."""
    store = backend.artifact_store()
    sha, _ = blob(b"the real bytes")
    with pytest.raises(IntegrityError):
        store.put(sha, [b"the real"], len(b"the real bytes"))
    with pytest.raises(IntegrityError):
        store.put(sha, [b"the real bytes"], 3)
    assert store.list() == set()
    assert backend.connection.database[f"{backend.prefix}artifacts.chunks"].count_documents({}) == 0


def test_chunks_of_a_dead_upload_are_invisible_and_repaired(backend):
    """A killed upload leaves chunks without a files document: never read, removed by repair()."""
    store = backend.artifact_store()
    sha, _ = blob(b"kept")
    store.put(sha, [b"kept"], 4)
    chunks = backend.connection.database[f"{backend.prefix}artifacts.chunks"]
    dead = ObjectId.from_datetime(datetime.now(timezone.utc) - timedelta(hours=2))
    running = ObjectId()
    chunks.insert_many([{"files_id": dead, "n": n, "data": b"x" * 10} for n in range(3)])
    chunks.insert_one({"files_id": running, "n": 0, "data": b"y"})

    assert store.list() == {sha}
    assert store.repair() == 3
    assert chunks.count_documents({"files_id": running}) == 1
    assert store.repair(grace=timedelta(0)) == 1
    with store.open(sha) as reader:
        assert reader.read() == b"kept"


def test_deleted_artifact_is_gone_for_readers(backend):
    """delete() removes the files document first, so exists/open stop seeing it at once."""
    store = backend.artifact_store()
    sha, _ = blob(b"bytes")
    store.put(sha, [b"bytes"], 5)
    store.delete(sha)
    store.delete(sha)
    assert not store.exists(sha)
    with pytest.raises(NotFoundError):
        store.open(sha)
    assert backend.connection.database[f"{backend.prefix}artifacts.chunks"].count_documents({}) == 0


@pytest.mark.parametrize("damage", ["delete", "shorten"])
def test_a_truncated_artifact_is_an_integrity_error(backend, damage):
    """A GridFS file missing a chunk, or with a shortened one, reads as IntegrityError, not GridFS's own error."""
    store = backend.artifact_store()
    data = os.urandom(600 * 1024)  # three GridFS chunks
    sha = hashlib.sha256(data).hexdigest()
    store.put(sha, pieces(data, 64 * 1024), len(data))
    chunks = backend.connection.database[f"{backend.prefix}artifacts.chunks"]
    if damage == "delete":
        chunks.delete_one({"n": 1})
    else:
        chunks.update_one({"n": 1}, {"$set": {"data": b"short"}})
    with store.open(sha) as stream, pytest.raises(IntegrityError, match="truncated or damaged"):
        stream.read()
