"""The change feed in MongoDB: events in ``<prefix>changes``, numbered by a counter document.

The counter is ``{"_id": "changes", "last": n, "pending": [...]}`` in ``<prefix>meta``.

With transactions (replica set, sharded cluster) the change, the counter increment and the
event are one transaction. Two transactions that both increment the counter conflict, so the
second one retries after the first commits: ids become visible in order.

Without them (standalone server, mongomock) a write goes in three steps:

1. one atomic update of the counter both takes the next id and records the event as *pending*
   (a compare-and-set on ``last``: taking the id and marking it pending in two writes would
   let a reader slip between them);
2. the change itself;
3. the event is inserted into ``<prefix>changes`` and removed from ``pending`` (or, when the
   change failed, only removed from ``pending``).

A reader returns only events below the first still-pending id, so no event can later appear
below one it returned. A pending event older than :data:`STALE_AFTER` seconds was left by a
writer that died: the reader settles it by looking at the record (present after an apply,
absent after a remove, an alias at the event's revision mean the change happened, and the event
is written) and drops it from ``pending``. A writer that really takes that long between steps 1 and 3 is taken for dead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import OperationFailure

from superlite.stores.base import ChangeEvent
from superlite_mongodb.aliases import alias_moved
from superlite_mongodb.migrations import COUNTER_ID

#: Seconds after which a pending event is taken to belong to a writer that died.
STALE_AFTER = 60.0

#: A change to make together with its event: given the session (or None), returns whether it happened.
Change = Callable[[Any], bool]


def event_document(kind: str, record: Mapping[str, Any], payload: Mapping[str, object] | None = None) -> dict[str, Any]:
    """The event for ``kind`` (``apply``/``remove``) of a component document, without its id."""
    return {
        "kind": kind,
        "type_id": record["type_id"],
        "identifier": record["identifier"],
        "uuid": record["_id"],
        "version": record["version"],
        "payload": dict(payload or {}),
        "created_at": datetime.now(UTC),
    }


class ChangeFeed:
    """Writes events with their changes, and reads them back in id order."""

    def __init__(self, database: Any, prefix: str, client: Any, transactions: bool) -> None:
        self._meta = database[f"{prefix}meta"]
        self._events = database[f"{prefix}changes"]
        self._components = database[f"{prefix}components"]
        self._aliases = database[f"{prefix}aliases"]
        self._client = client
        self._transactions = transactions
        self._stream: Any = None
        self._await_ms = 0
        self._streams_supported = True

    def wait(self, seconds: float) -> bool:
        """Block until the events collection changes or ``seconds`` pass, through a change stream.

        False at once where the server has no change streams (a standalone server, mongomock):
        the caller polls :meth:`read` then.
        """
        if not self._streams_supported:
            return False
        await_ms = max(1, int(seconds * 1000))
        try:
            if self._stream is not None and self._await_ms != await_ms:  # a stream keeps the wait it was opened with
                token, stream, self._stream = self._stream.resume_token, self._stream, None
                stream.close()
                self._stream = self._events.watch(resume_after=token, max_await_time_ms=await_ms)
            if self._stream is None:
                self._stream = self._events.watch(max_await_time_ms=await_ms)
            self._await_ms = await_ms
            self._stream.try_next()
        except (TypeError, NotImplementedError, OperationFailure):
            self._streams_supported = False
            self.close()
            return False
        return True

    def close(self) -> None:
        """Close the change stream, if one is open."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def write(self, events: Callable[[Any], list[dict[str, Any]]], change: Change) -> None:
        """Make ``change`` and write the events ``events(session)`` lists, as one unit.

        ``events`` is called before the change (it may read what is about to change).
        """
        if self._transactions:
            with self._client.start_session() as session:
                session.with_transaction(lambda s: self._in_transaction(s, events, change))
            return
        for event in events(None):
            self._around(event, change)

    def _in_transaction(self, session: Any, events: Callable[[Any], list[dict[str, Any]]], change: Change) -> None:
        listed = events(session)
        if change(session):
            for event in listed:
                counter = self._meta.find_one_and_update(
                    {"_id": COUNTER_ID}, {"$inc": {"last": 1}}, return_document=ReturnDocument.AFTER, session=session
                )
                self._events.insert_one({"_id": counter["last"], **event}, session=session)

    def _around(self, event: dict[str, Any], change: Change) -> None:
        number = self._take_pending(event)
        happened = False
        try:
            happened = change(None)
        finally:
            self._finish(number, event if happened else None)

    def _take_pending(self, event: dict[str, Any]) -> int:
        # Compare-and-set, so that the pending entry carries its id from the start.
        while True:
            last = self._meta.find_one({"_id": COUNTER_ID})["last"]
            entry = {"id": last + 1, "at": time.time(), "event": event}
            taken = self._meta.update_one(
                {"_id": COUNTER_ID, "last": last}, {"$set": {"last": last + 1}, "$push": {"pending": entry}}
            )
            if taken.modified_count == 1:
                return last + 1

    def _finish(self, number: int, event: dict[str, Any] | None) -> None:
        if event is not None:
            self._events.replace_one({"_id": number}, {"_id": number, **event}, upsert=True)
        self._meta.update_one({"_id": COUNTER_ID}, {"$pull": {"pending": {"id": number}}})

    def read(self, since: int, limit: int) -> list[ChangeEvent]:
        """Events with ``since < id`` below the first still-pending one, oldest first."""
        cursor = self._events.find(
            {"_id": {"$gt": since, "$lt": self._visible_below()}}, sort=[("_id", ASCENDING)], limit=limit
        )
        return [_change_event(document) for document in cursor]

    def last_id(self) -> int:
        """The highest id below which every event is visible."""
        return self._visible_below() - 1

    def _visible_below(self) -> int:
        counter = self._meta.find_one({"_id": COUNTER_ID}) or {"last": 0, "pending": []}
        stale = [p for p in counter["pending"] if p["at"] < time.time() - STALE_AFTER]
        if stale:
            for entry in stale:
                self._settle(entry)
            counter = self._meta.find_one({"_id": COUNTER_ID})
        return min((p["id"] for p in counter["pending"]), default=counter["last"] + 1)

    def _settle(self, entry: Mapping[str, Any]) -> None:
        event = entry["event"]
        if event["kind"] == "alias":
            happened = alias_moved(self._aliases, event)
        else:
            present = self._components.count_documents({"_id": event["uuid"]}, limit=1) == 1
            happened = present == (event["kind"] == "apply")
        self._finish(entry["id"], event if happened else None)


def _change_event(document: Mapping[str, Any]) -> ChangeEvent:
    return ChangeEvent(
        id=document["_id"],
        kind=document["kind"],
        type_id=document["type_id"],
        identifier=document["identifier"],
        uuid=document.get("uuid"),
        version=document.get("version"),
        payload=document.get("payload", {}),
        created_at=document["created_at"].replace(tzinfo=UTC),
    )
