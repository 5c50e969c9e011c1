"""A mock of MongoDB change streams on mongomock: no replica set can run on these machines.

mongomock has no ``watch()``, so without this the listeners' change-stream path
(:mod:`superlite_mongodb.listener_streams`) and ``ChangeFeed.wait`` never run in tests.
:class:`ReplicaSetClient` is a mongomock client whose collections record every write made
through them in one in-memory oplog, and whose ``watch(resume_after=..., max_await_time_ms=...)``
returns a :class:`FakeChangeStream` reading it.

What is modelled:

* ``insert``, ``update``, ``replace`` and ``delete`` events with ``operationType``, ``ns``,
  ``documentKey``, ``fullDocument`` (inserts and replaces) and, for updates,
  ``updateDescription`` with ``updatedFields`` and ``removedFields``; a ``drop`` event when a
  collection is dropped;
* resume tokens ``{"_data": "<hex position>"}`` as the events' ``_id`` and as
  ``resume_token`` (after an empty ``try_next`` it moves to the end of the oplog, like the
  server's post-batch resume token);
* ``try_next()`` waiting up to ``max_await_time_ms`` for an event, ``close()``;
* a bounded history: :meth:`Oplog.forget` drops the retained events, and resuming from a token
  before them raises ``OperationFailure`` with code 286 (ChangeStreamHistoryLost).

What is not: pipelines, ``full_document`` lookups, ``start_after`` / ``start_at_operation_time``,
database- and client-level ``watch``, ``invalidate`` and ``rename`` events, transactions (the
connection still reports none), ``truncatedArrays``. Update descriptions are derived by
comparing the document before and after the write, down to the deepest changed field (a server
reports the paths the update operators named: ``$set: {"review": {...}}`` is ``review`` there,
``review.text`` here when only the text changed). Writes that bypass the collection methods
below (mongomock internals, GridFS) are not recorded.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any

import bson
import mongomock
from pymongo.errors import OperationFailure

#: The server's code for "the resume token is no longer in the oplog".
HISTORY_LOST = 286

Event = dict[str, Any]

_MISSING = object()


def token(position: int) -> dict[str, str]:
    """The resume token of oplog ``position`` (0: before any event)."""
    return {"_data": f"{position:016x}"}


def position(resume_token: Mapping[str, Any]) -> int:
    """The oplog position of a token made by :func:`token`."""
    return int(resume_token["_data"], 16)


class Oplog:
    """Every recorded event of one client, numbered from 1, and the part of it still retained."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.grew = threading.Condition(self.lock)
        self.last = 0
        self.first_kept = 1
        self.events: list[tuple[str, Event]] = []  # (namespace, event), positions first_kept..last
        self.writing = 0  # depth of recorded calls in progress (one thread: the lock is held)

    def append(self, namespace: str, events: list[Event]) -> None:
        """Number ``events`` on ``namespace`` and wake the streams waiting for one."""
        with self.lock:
            for event in events:
                self.last += 1
                database, _, collection = namespace.partition(".")
                self.events.append((namespace, {"_id": token(self.last), "ns": {"db": database, "coll": collection}, **event}))
            if events:
                self.grew.notify_all()

    def forget(self) -> None:
        """Drop the retained history, as a server does when its oplog rolls over."""
        with self.lock:
            self.events.clear()
            self.first_kept = self.last + 1

    def next_after(self, start: int, namespace: str) -> tuple[int, Event] | None:
        """The first event on ``namespace`` after position ``start``, with its position."""
        for offset, (ns, event) in enumerate(self.events[max(0, start + 1 - self.first_kept) :]):
            if ns == namespace:
                return max(start + 1, self.first_kept) + offset, event
        return None


class FakeChangeStream:
    """A change stream on one collection, from an oplog position (see the module docstring)."""

    def __init__(self, oplog: Oplog, namespace: str, start: int, await_ms: int) -> None:
        self._oplog = oplog
        self._namespace = namespace
        self._position = start
        self._await = await_ms / 1000
        self.alive = True

    def try_next(self) -> Event | None:
        """The next event, waiting up to ``max_await_time_ms`` for one; None if none came."""
        with self._oplog.grew:
            self._oplog.grew.wait_for(lambda: self._next() is not None or not self.alive, timeout=self._await)
            found = self._next()
            if found is None:
                self._position = self._oplog.last
                return None
            self._position, event = found
            return dict(event)

    def _next(self) -> tuple[int, Event] | None:
        return self._oplog.next_after(self._position, self._namespace)

    @property
    def resume_token(self) -> dict[str, str]:
        """The token after the last event returned (or the end of the oplog after an empty read)."""
        return token(self._position)

    def close(self) -> None:
        """Stop the stream (wakes a ``try_next`` waiting in another thread)."""
        with self._oplog.grew:
            self.alive = False
            self._oplog.grew.notify_all()


def _diff(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, Any], list[str]]:
    """``updatedFields`` and ``removedFields`` taking ``before`` to ``after`` (dotted paths)."""
    updated: dict[str, Any] = {}
    removed = [prefix + name for name in before if name not in after]
    for name, value in after.items():
        old = before.get(name, _MISSING)
        if isinstance(old, dict) and isinstance(value, dict):
            deeper_updated, deeper_removed = _diff(old, value, f"{prefix}{name}.")
            updated.update(deeper_updated)
            removed += deeper_removed
        elif old is _MISSING or old != value:
            updated[prefix + name] = value
    return updated, removed



def _events(before: dict[bytes, Event], after: dict[bytes, Event], replacing: bool) -> list[Event]:
    """The events taking a collection's documents from ``before`` to ``after`` (keyed by their ``_id``)."""
    events: list[Event] = []
    for key, document in after.items():
        old = before.get(key)
        named = {"documentKey": {"_id": document["_id"]}}
        if old is None:
            events.append({"operationType": "insert", **named, "fullDocument": document})
        elif old != document and replacing:
            events.append({"operationType": "replace", **named, "fullDocument": document})
        elif old != document:
            updated, removed = _diff(old, document)
            description = {"updatedFields": updated, "removedFields": removed, "truncatedArrays": []}
            events.append({"operationType": "update", **named, "updateDescription": description})
    events += [{"operationType": "delete", "documentKey": {"_id": old["_id"]}} for key, old in before.items() if key not in after]
    return events


def _recorded(replacing: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Record the events a collection write method makes (``replacing``: changed documents are replaced)."""

    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def recorded(self: RecordingCollection, *args: Any, **kwargs: Any) -> Any:
            return self._record(replacing, lambda: method(self, *args, **kwargs))

        return recorded

    return decorate


class RecordingCollection(mongomock.Collection):
    """A mongomock collection whose writes go to its client's :class:`Oplog`, and which can ``watch``."""

    @property
    def _oplog(self) -> Oplog:
        return self.database.client.oplog

    def _record(self, replacing: bool, write: Callable[[], Any]) -> Any:
        oplog = self._oplog
        with oplog.lock:
            if oplog.writing:  # a recorded method called by another: the outer one records
                return write()
            oplog.writing += 1
            before = self._documents()
            try:
                return write()
            finally:  # what a failing write did (a duplicate key part-way through a batch) is recorded too
                oplog.writing -= 1
                oplog.append(self._namespace, _events(before, self._documents(), replacing))

    @property
    def _namespace(self) -> str:
        return f"{self.database.name}.{self.name}"

    def _documents(self) -> dict[bytes, Event]:
        # Keyed by the BSON of the _id: ids may be documents (unhashable), compared as BSON compares them.
        return {bson.encode({"_id": document["_id"]}): document for document in self.find({})}

    insert_one = _recorded()(mongomock.Collection.insert_one)
    insert_many = _recorded()(mongomock.Collection.insert_many)
    update_one = _recorded()(mongomock.Collection.update_one)
    update_many = _recorded()(mongomock.Collection.update_many)
    replace_one = _recorded(replacing=True)(mongomock.Collection.replace_one)
    delete_one = _recorded()(mongomock.Collection.delete_one)
    delete_many = _recorded()(mongomock.Collection.delete_many)
    find_one_and_update = _recorded()(mongomock.Collection.find_one_and_update)
    find_one_and_replace = _recorded(replacing=True)(mongomock.Collection.find_one_and_replace)
    find_one_and_delete = _recorded()(mongomock.Collection.find_one_and_delete)
    bulk_write = _recorded()(mongomock.Collection.bulk_write)

    def drop(self, session: Any = None) -> None:
        """Drop the collection and record a ``drop`` event."""
        with self._oplog.lock:
            super().drop(session=session)
            self._oplog.append(self._namespace, [{"operationType": "drop"}])

    def watch(self, *, resume_after: Mapping[str, Any] | None = None, max_await_time_ms: int | None = None) -> FakeChangeStream:
        """A stream of this collection's events after ``resume_after`` (None: from now).

        Raises ``OperationFailure`` (code 286) when the token is older than the retained history.
        """
        oplog = self._oplog
        with oplog.lock:
            start = oplog.last if resume_after is None else position(resume_after)
            if start < oplog.first_kept - 1:
                raise OperationFailure("Resume of change stream was not possible, as the resume point may no longer be in the oplog.", code=HISTORY_LOST)
            return FakeChangeStream(oplog, self._namespace, start, max_await_time_ms or 1000)


class RecordingDatabase(mongomock.Database):
    """A mongomock database handing out :class:`RecordingCollection` objects."""

    def get_collection(self, name: str, **options: Any) -> RecordingCollection:
        """The collection ``name`` (made a :class:`RecordingCollection` on first access)."""
        if name not in self._collection_accesses:
            self._ensure_valid_collection_name(name)
            self._collection_accesses[name] = RecordingCollection(
                self, name, _db_store=self._store, codec_options=self._codec_options, read_preference=self.read_preference
            )
        return super().get_collection(name, **options)


class ReplicaSetClient(mongomock.MongoClient):
    """A mongomock client standing in for a replica set's change streams (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        self.oplog = Oplog()
        super().__init__(**kwargs)

    def get_database(self, name: str | None = None, **options: Any) -> RecordingDatabase:
        """The database ``name`` (made a :class:`RecordingDatabase` on first access)."""
        if name is not None and name not in self._database_accesses:
            self._database_accesses[name] = RecordingDatabase(
                self, name, _store=self._store[name], codec_options=self._codec_options, read_preference=self.read_preference
            )
        return super().get_database(name, **options)

