"""Listeners on MongoDB collections (registered for ``mongodb://``, ``mongodb+srv://``, ``mongomock://``).

Changes are followed two ways, chosen once per source by what the server offers:

* **change streams** (replica sets, sharded clusters): the events after the listener's stored
  resume token name the changed documents (see :mod:`superlite_mongodb.listener_streams`); the
  token is taken when the listener is installed, before its back-fill, and advanced with each
  committed batch. When the token can no longer be resumed (the oplog moved on), one
  comparison pass (below) catches up and a new token is taken before it.
* **polling on a watermark** (a standalone server, mongomock; ``Listener(watermark="updated_at")``):
  every writer sets that field to an increasing value (a date, a counter); each look reads the
  documents whose value passed the last one committed (kept in the state document, taken at
  install before the back-fill), and compares ids only to find outputs whose document is gone.
  Values must increase in commit order: a writer committing an older value after a newer one
  was seen is missed until the next back-fill. Index the field.
* **polling by comparison** (no change streams, no watermark): each look compares a hash of every document's
  key (a dotted path) with the hash stored beside its output (or its error), in ``_id`` order.
  New or changed keys are computed, outputs whose document is gone or left the filter are
  deleted. Only ``_id`` and the key are read, and only documents whose key changed go to the model.

Collections: ``_outputs__<listener>`` (``_id`` = the source document's ``_id``, ``output`` (the
wire codec's JSON tree: bytes, tuples, arrays come back as they were), ``model_uuid``,
``model_version``, ``computed_at``, ``key_hash``), ``_superlite_listener_state`` (one document
per listener: model in force, back-fill cursor, lease, ``stream_token``, ``poll_mark``) and
``_superlite_listener_errors``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pymongo import ASCENDING, UpdateMany

from superlite.components.reference import Resolved
from superlite.errors import ConfigurationError, NotFoundError
from superlite.listeners.component import OUTPUTS_PREFIX, Listener
from superlite.listeners.source import Batch, Change, Lag, ListenerSource, ListenerState, SourceId, decode_output
from superlite.serialization.wire import CODEC
from superlite_mongodb.connection import open_connection
from superlite_mongodb.listener_streams import (
    HistoryLost,
    StreamsUnsupported,
    current_token,
    read_stream,
    wait_for_event,
)

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer

log = logging.getLogger(__name__)

STATE = "_superlite_listener_state"
ERRORS = "_superlite_listener_errors"

#: Documents compared per round trip when looking for changes.
SCAN_PAGE = 5000


def _get(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(CODEC.to_json_value(value), sort_keys=True).encode()).hexdigest()


def _upsert_all(collection: Any, upserts: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Set the fields of each ``(filter, fields)`` pair, inserting where none matches: one unordered bulk write.

    Each filter matches at most one document (a unique key), so ``UpdateMany`` is an idempotent
    upsert. ``UpdateOne`` and ``ReplaceOne`` would do as much on a server, but mongomock 4.3's
    ``bulk_write`` refuses them under pymongo 4.20 (it does not take their ``sort`` argument).
    """
    if upserts:
        collection.bulk_write([UpdateMany(match, {"$set": fields}, upsert=True) for match, fields in upserts], ordered=False)


def open_mongo_source(db: Datalayer, listener: Listener) -> MongoListenerSource:
    """The listener source on the Datalayer's MongoDB database (its own client lease)."""
    return MongoListenerSource(db.settings.uri, listener)


def _id_range(cursor: Any, last: Any) -> dict[str, Any]:
    """The filter of ``_id`` values after ``cursor`` and up to ``last`` (None: unbounded)."""
    bounds = {**({} if cursor is None else {"$gt": cursor}), **({} if last is None else {"$lte": last})}
    return {"_id": bounds} if bounds else {}


class MongoListenerSource(ListenerSource):
    """A listener on a collection of the Datalayer's MongoDB database (see the module docstring)."""

    def __init__(self, uri: str, listener: Listener) -> None:
        if listener.where is not None and not isinstance(listener.where, dict):
            raise ConfigurationError(f"listener {listener.identifier!r}: on MongoDB, where= is a filter document")
        self.listener = listener
        self.name = listener.identifier
        self.connection = open_connection(uri)
        self._give_back = self.connection.leases.take()
        database = self.connection.database
        self.source = database[listener.table]
        self.out = database[listener.outputs_table]
        self.states = database[STATE]
        self.error_docs = database[ERRORS]
        self.filter: dict[str, Any] = dict(listener.where or {})
        self.path = listener.key
        self.chained = listener.table.startswith(OUTPUTS_PREFIX)
        self._hashes: dict[SourceId, str] = {}
        self.streams = True  # until the server shows it has none

    @property
    def following(self) -> str:
        """How changes are found: ``"change stream"`` or ``"polling"`` (known after the first look)."""
        return "change stream" if self.streams else "polling"

    def _start_token(self) -> Any:
        """A resume token for now, or None (and polling from then on) where there are no streams."""
        if not self.streams:
            return None
        try:
            return current_token(self.source)
        except StreamsUnsupported:
            self.streams = False
            return None

    def close(self) -> None:
        """Give the client lease back."""
        if self._give_back is not None:
            self._give_back()
            self._give_back = None

    def install(self, signature: str) -> bool:
        """Create indexes and the state document; True when ``signature`` changed."""
        self.error_docs.create_index([("listener", ASCENDING), ("source_id", ASCENDING)], unique=True)
        old = self.states.find_one({"_id": self.name})
        if old is not None and old.get("signature") == signature:
            return False
        if old is not None:
            self.out.delete_many({})
            self.error_docs.delete_many({"listener": self.name})
        self.states.replace_one(
            {"_id": self.name},
            {"_id": self.name, "signature": signature, "model_uuid": None, "model_version": None, "cursor": None,
             "backfill_done": False, "processed": 0, "rate": None, "lease_owner": None, "lease_until": None,
             # Positions taken before the back-fill, so that nothing written after them is missed:
             "stream_token": self._start_token(), "poll_mark": self._mark()},
            upsert=True,
        )
        return True

    def uninstall(self, keep_outputs: bool) -> None:
        """Forget the state and errors, and drop the outputs unless kept."""
        self.states.delete_one({"_id": self.name})
        self.error_docs.delete_many({"listener": self.name})
        if not keep_outputs:
            self.out.drop()

    def state(self) -> ListenerState:
        """The listener's state document."""
        doc = self.states.find_one({"_id": self.name})
        if doc is None:
            raise NotFoundError(f"listener {self.name!r} is not installed in this database")
        return ListenerState(doc["model_uuid"], doc["model_version"], doc["cursor"], doc["backfill_done"], doc["processed"], doc["rate"])

    def restart_backfill(self, model: Resolved) -> None:
        """Make ``model`` current and restart the back-fill."""
        self.states.update_one(
            {"_id": self.name},
            {"$set": {"model_uuid": model.uuid, "model_version": model.version, "cursor": None, "backfill_done": False}},
        )

    def finish_backfill(self) -> None:
        """Mark the back-fill complete."""
        self.states.update_one({"_id": self.name}, {"$set": {"backfill_done": True}})

    def _matching(self, extra: dict[str, Any]) -> dict[str, Any]:
        """The query for documents that pass the listener's filter and ``extra``."""
        return {"$and": [self.filter, extra]} if self.filter else extra

    def _documents(self, extra: dict[str, Any], limit: int = 0) -> Iterator[tuple[SourceId, Any]]:
        for doc in self.source.find(self._matching(extra), {self.path: 1}).sort("_id", ASCENDING).limit(limit):
            value = _get(doc, self.path)
            value = decode_output(value) if self.chained else value
            self._hashes[doc["_id"]] = _hash(value)
            yield doc["_id"], value

    def scan(self, cursor: Any, limit: int, last: Any = None) -> list[tuple[SourceId, Any, str | None]]:
        """Documents after ``cursor`` (up to ``last``) by ``_id``, with the model uuid of their output."""
        page = list(self._documents(_id_range(cursor, last), limit))
        made_by = {doc["_id"]: doc["model_uuid"] for doc in self.out.find({"_id": {"$in": [i for i, _ in page]}}, {"model_uuid": 1})}
        return [(i, value, made_by.get(i)) for i, value in page]

    def ranges(self, cursor: Any, size: int, count: int) -> list[tuple[SourceId, int]]:
        """The ``_id`` values of ``size * count`` documents after ``cursor``, cut into ranges."""
        query = self._matching(_id_range(cursor, None))
        ids = [doc["_id"] for doc in self.source.find(query, {"_id": 1}).sort("_id", ASCENDING).limit(size * count)]
        return [(ids[min(i + size, len(ids)) - 1], min(size, len(ids) - i)) for i in range(0, len(ids), size)]

    def changes(self, limit: int) -> list[Change]:
        """Changed documents: from the change stream where there is one, else by comparing key hashes."""
        if self.streams:
            token = (self.states.find_one({"_id": self.name}, {"stream_token": 1}) or {}).get("stream_token")
            try:
                return self._streamed(token, limit) if token is not None else self._resync(limit)
            except StreamsUnsupported:
                self.streams = False
            except HistoryLost as exc:
                log.warning("listener %r: %s; comparing every document once to catch up", self.name, exc)
                return self._resync(limit)
        if self.listener.watermark:
            return self._watermarked(limit)
        return self._compared(limit)[0]

    def _watermarked(self, limit: int) -> list[Change]:
        """Documents whose watermark passed the stored one, oldest first, and outputs whose document is gone."""
        field = self.listener.watermark
        mark = (self.states.find_one({"_id": self.name}, {"poll_mark": 1}) or {}).get("poll_mark")
        query = {field: {"$exists": True}} if mark is None else {field: {"$gt": mark}}
        docs = list(self.source.find(query, {field: 1}).sort(field, ASCENDING).limit(limit + 1))
        if len(docs) > limit:  # cut where the watermark changes, so that no equal value is left behind
            left_out = _get(docs[limit], field)
            docs = [doc for doc in docs[:limit] if _get(doc, field) != left_out] or list(self.source.find({field: left_out}, {field: 1}))
        changed = [Change(("poll_mark", _get(doc, field)), doc["_id"]) for doc in docs]
        if len(changed) >= limit:
            return changed
        return changed + [Change(None, i) for i in self._gone()][: limit - len(changed)]

    def _gone(self) -> list[SourceId]:
        """Ids with an output or an error whose document no longer exists (ids only are compared)."""
        kept = [doc["_id"] for doc in self.out.find({}, {"_id": 1})]
        kept += [doc["source_id"] for doc in self.error_docs.find({"listener": self.name}, {"source_id": 1})]
        gone = []
        for start in range(0, len(kept), SCAN_PAGE):
            page = kept[start : start + SCAN_PAGE]
            present = {doc["_id"] for doc in self.source.find({"_id": {"$in": page}}, {"_id": 1})}
            gone += [i for i in page if i not in present]
        return gone

    def _mark(self) -> Any:
        """The highest watermark now (None without a watermark field or any document carrying it)."""
        field = self.listener.watermark
        if not field:
            return None
        top = list(self.source.find({field: {"$exists": True}}, {field: 1}).sort(field, -1).limit(1))
        return _get(top[0], field) if top else None

    def _streamed(self, token: Any, limit: int) -> list[Change]:
        found = read_stream(self.source, token, self.path, bool(self.filter), limit)
        if not found.ids:
            if found.token is not None and found.token != token:  # only passed-over events: move past them
                self.states.update_one({"_id": self.name, "stream_token": token}, {"$set": {"stream_token": found.token}})
            return []
        # The last change carries the position after everything read: committed with its batch.
        return [Change(None, i) for i in found.ids[:-1]] + [Change(("stream_token", found.token), found.ids[-1])]

    def _resync(self, limit: int) -> list[Change]:
        """Compare every document once, under a token taken first; the token is kept once all is done.

        Raises :class:`StreamsUnsupported` where there are no change streams.
        """
        token = current_token(self.source)
        changed, complete = self._compared(limit)
        if not complete:
            return changed  # not complete: the next look compares again (committed rows then match)
        if not changed:
            self.states.update_one({"_id": self.name}, {"$set": {"stream_token": token}})
            return []
        return changed[:-1] + [Change(("stream_token", token), changed[-1].source_id)]

    def _compared(self, limit: int) -> tuple[list[Change], bool]:
        """Documents whose key hash differs from the stored one, and whether that is all of them."""
        changed: list[Change] = []
        stored = {doc["_id"]: doc.get("key_hash") for doc in self.out.find({}, {"key_hash": 1})}
        stored.update(
            (doc["source_id"], doc.get("key_hash")) for doc in self.error_docs.find({"listener": self.name}, {"source_id": 1, "key_hash": 1})
        )
        seen = set()
        cursor = None
        while len(changed) <= limit:
            page = list(self._documents({} if cursor is None else {"_id": {"$gt": cursor}}, SCAN_PAGE))
            if not page:  # every document compared: outputs of documents not seen are stale
                changed.extend(Change(None, i) for i in stored if i not in seen)
                break
            for i, _ in page:
                seen.add(i)
                if stored.get(i) != self._hashes[i]:
                    changed.append(Change(None, i))
            cursor = page[-1][0]
        return changed[:limit], len(changed) <= limit

    def read(self, ids: Sequence[SourceId]) -> dict[SourceId, Any]:
        """Key values of the documents among ``ids`` that exist and pass the filter."""
        return dict(self._documents({"_id": {"$in": list(ids)}}))

    def commit(self, model: Resolved, batch: Batch) -> None:
        """Upsert outputs (with their key hash), record errors, delete gone outputs, advance."""
        now = datetime.now(timezone.utc)
        _upsert_all(self.out, [
            ({"_id": i}, {"output": json.loads(text), "model_uuid": model.uuid, "model_version": model.version,
                          "computed_at": now, "key_hash": self._hashes.get(i)})
            for i, text in batch.outputs
        ])
        if batch.deleted:
            self.out.delete_many({"_id": {"$in": list(batch.deleted)}})
        cleared = [i for i, _ in batch.outputs] + list(batch.deleted)
        if cleared:
            self.error_docs.delete_many({"listener": self.name, "source_id": {"$in": cleared}})
        _upsert_all(self.error_docs, [
            ({"listener": self.name, "source_id": i},
             {"model_uuid": model.uuid, "model_version": model.version, "error": message, "failed_at": time.time(),
              "key_hash": self._hashes.get(i)})
            for i, message in batch.errors
        ])
        update: dict[str, Any] = {"$inc": {"processed": batch.count}}
        values: dict[str, Any] = {}
        if batch.cursor is not None:
            values["cursor"] = batch.cursor
        values.update(token for token in batch.done if token is not None)  # (field, position): the last one wins
        if batch.rate is not None:
            values["rate"] = batch.rate
        if values:
            update["$set"] = values
        self.states.update_one({"_id": self.name}, update)

    def acquire(self, owner: str, seconds: float) -> bool:
        """One conditional update of the state document."""
        now = time.time()
        result = self.states.update_one(
            {"_id": self.name, "$or": [{"lease_owner": None}, {"lease_owner": owner}, {"lease_until": {"$lt": now}}]},
            {"$set": {"lease_owner": owner, "lease_until": now + seconds}},
        )
        return result.matched_count == 1

    def release(self, owner: str) -> None:
        """Clear the lease if ``owner`` holds it."""
        self.states.update_one({"_id": self.name, "lease_owner": owner}, {"$set": {"lease_owner": None, "lease_until": None}})

    def outputs(self) -> dict[SourceId, Any]:
        """``{_id: output}`` for every stored output."""
        return {doc["_id"]: decode_output(doc["output"]) for doc in self.out.find({}, {"output": 1})}

    def errors(self) -> dict[SourceId, str]:
        """``{_id: error}`` for documents whose model call failed."""
        return {doc["source_id"]: doc["error"] for doc in self.error_docs.find({"listener": self.name})}

    def lag(self) -> Lag:
        """Changed documents (found by comparing hashes), rows the back-fill has yet to pass, errors."""
        current = self.state()
        remaining = 0
        if not current.backfill_done:
            extra = {} if current.cursor is None else {"_id": {"$gt": current.cursor}}
            remaining = self.source.count_documents(self._matching(extra))
        pending = 0 if not current.backfill_done else len(self.changes(SCAN_PAGE))
        return Lag(pending, None, remaining, self.error_docs.count_documents({"listener": self.name}))

    def wait(self, seconds: float) -> None:
        """With a change stream, wake at the next event (or after ``seconds``); polling: sleep."""
        token = (self.states.find_one({"_id": self.name}, {"stream_token": 1}) or {}).get("stream_token") if self.streams else None
        if token is None:
            time.sleep(seconds)
            return
        try:
            wait_for_event(self.source, token, seconds)
        except (StreamsUnsupported, HistoryLost):
            time.sleep(seconds)
