"""Following a collection through a MongoDB change stream, resumed from a token kept in the database.

Replica sets and sharded clusters have change streams: a listener then reads the events after its
stored *resume token* (the watermark of what it has processed), and commits the token of the
last event with the outputs that event led to. A standalone server or mongomock has none:
:func:`open_stream` says so, once, and the listener polls instead.

Only the ``_id`` of each changed document is taken from an event; the document itself is read
when its batch is processed, so the output always follows the document as it is then.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo.errors import OperationFailure, PyMongoError

log = logging.getLogger(__name__)

#: Server error codes meaning the stored token can no longer be resumed from (the oplog moved on).
HISTORY_LOST = frozenset({280, 286})

#: Events that change a document; anything else (drop, rename, invalidate) ends the stream.
DOCUMENT_EVENTS = frozenset({"insert", "update", "replace", "delete"})


class StreamsUnsupported(Exception):
    """The server (or mongomock) has no change streams."""


class HistoryLost(Exception):
    """The stored resume token is too old to resume from, or the stream was invalidated."""


def open_stream(collection: Any, token: Mapping[str, Any] | None, await_ms: int) -> Any:
    """A change stream on ``collection`` after ``token`` (None: from now), or raise why not."""
    try:
        return collection.watch(resume_after=token, max_await_time_ms=max(1, await_ms))
    except (TypeError, NotImplementedError, AttributeError):
        raise StreamsUnsupported("this client has no change streams") from None  # mongomock
    except OperationFailure as exc:
        if token is not None and exc.code in HISTORY_LOST:
            raise HistoryLost(str(exc)) from None
        if token is None:
            raise StreamsUnsupported(str(exc)) from None  # a standalone server: code 40573
        raise


def current_token(collection: Any) -> Mapping[str, Any]:
    """A resume token for "now": events after it are changes from this moment on."""
    stream = open_stream(collection, None, 1)
    try:
        stream.try_next()
        return stream.resume_token
    finally:
        stream.close()


def touches(event: Mapping[str, Any], path: str, filtered: bool) -> bool:
    """Whether ``event`` may change the output of its document (its key at ``path``, or the filter)."""
    kind = event.get("operationType")
    if kind != "update":
        return True
    if filtered:
        return True  # the update may move the document into or out of the filter
    description = event.get("updateDescription") or {}
    fields = list(description.get("updatedFields") or {}) + list(description.get("removedFields") or [])
    fields += [entry.get("field", "") for entry in description.get("truncatedArrays") or []]
    return any(field == path or field.startswith(path + ".") or path.startswith(field + ".") for field in fields)


@dataclass
class StreamRead:
    """What one read of the stream found: changed ``_id`` values, and the position after them."""

    ids: list[Any]
    token: Mapping[str, Any] | None


def read_stream(collection: Any, token: Mapping[str, Any], path: str, filtered: bool, limit: int) -> StreamRead:
    """The ids of up to ``limit`` changing events after ``token``, and the token after the last read.

    Updates that leave the key alone are passed over (their position still counts as read).
    Raises :class:`HistoryLost` when the stream cannot continue from ``token``.
    """
    ids: list[Any] = []
    stream = open_stream(collection, token, 1)
    try:
        while len(ids) < limit:
            event = stream.try_next()
            if event is None:
                break
            if event.get("operationType") not in DOCUMENT_EVENTS:
                raise HistoryLost(f"the change stream ended with a {event.get('operationType')!r} event")
            if touches(event, path, filtered):
                ids.append(event["documentKey"]["_id"])
        return StreamRead(ids, stream.resume_token)
    except OperationFailure as exc:
        if exc.code in HISTORY_LOST:
            raise HistoryLost(str(exc)) from None
        raise
    finally:
        try:
            stream.close()
        except PyMongoError:
            log.debug("closing a change stream failed", exc_info=True)


def wait_for_event(collection: Any, token: Mapping[str, Any], seconds: float) -> None:
    """Block until an event follows ``token`` on ``collection``, or ``seconds`` pass."""
    stream = open_stream(collection, token, int(seconds * 1000))
    try:
        stream.try_next()
    finally:
        stream.close()
