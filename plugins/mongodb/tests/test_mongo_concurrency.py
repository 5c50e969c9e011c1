"""Concurrent writers: one version number has one owner; one artifact is stored once.

The unique index on ``(type_id, identifier, version)`` makes MongoDB refuse the second insert
with a duplicate-key error (code 11000); a real server names the index in the error, mongomock
does not, and the store tells the two cases apart either way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from mongo_support import record

from superlite.errors import SuperliteError, VersionConflictError

WRITERS = 16


def test_one_version_one_owner_under_threads(backend):
    store = backend.metadata_store()
    barrier = threading.Barrier(WRITERS)

    def insert(n: int) -> str:
        candidate = record("racy", 0)
        barrier.wait()
        try:
            store.insert(candidate)
            return "stored"
        except VersionConflictError:
            return "conflict"

    with ThreadPoolExecutor(WRITERS) as pool:
        outcomes = list(pool.map(insert, range(WRITERS)))
    assert sorted(outcomes) == ["conflict"] * (WRITERS - 1) + ["stored"]
    assert store.versions("model", "racy") == [0]


def test_a_duplicate_uuid_is_not_a_version_conflict(backend):
    """Retrying with the next version would not help, so it is a different error."""
    store = backend.metadata_store()
    first = record("m", 0)
    store.insert(first)
    clash = dataclasses.replace(first, version=1)
    with pytest.raises(SuperliteError, match="uuid") as caught:
        store.insert(clash)
    assert not isinstance(caught.value, VersionConflictError)


def test_concurrent_puts_of_the_same_bytes_all_succeed(backend):
    """Every writer streams its own upload; the unique filename keeps exactly one."""
    store = backend.artifact_store()
    data = os.urandom(3 * 1024 * 1024)
    sha = hashlib.sha256(data).hexdigest()
    barrier = threading.Barrier(4)

    def stream():
        yield data[: 1024 * 1024]
        barrier.wait()
        yield data[1024 * 1024 :]

    def put(_: int) -> None:
        # exists() is checked before streaming, so all four are past it when they meet
        store.put(sha, stream(), len(data))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, range(4)))
    assert store.list() == {sha}
    with store.open(sha) as reader:
        assert reader.read() == data
    files_ids = backend.connection.database[f"{backend.prefix}artifacts.chunks"].distinct("files_id")
    assert len(files_ids) == 1
