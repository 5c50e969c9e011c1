"""Listeners on MongoDB collections (registered for ``mongodb://``, ``mongodb+srv://``, ``mongomock://``).

A MongoDB collection has no triggers, so changes are found by polling: each look compares a
hash of every document's key (a dotted path) with the hash stored beside its output (or its
error), in ``_id`` order. New or changed keys are computed, outputs whose document is gone or
left the filter are deleted. Only ``_id`` and the key are read, and only documents whose key
changed go to the model.

Collections: ``_outputs__<listener>`` (``_id`` = the source document's ``_id``, ``output``,
``model_uuid``, ``model_version``, ``computed_at``, ``key_hash``), ``_superlite_listener_state``
and ``_superlite_listener_errors``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pymongo import ASCENDING

from superlite.components.reference import Resolved
from superlite.errors import ConfigurationError, NotFoundError
from superlite.listeners.component import OUTPUTS_PREFIX, Listener
from superlite.listeners.source import Batch, Change, Lag, ListenerSource, ListenerState, SourceId
from superlite.serialization.wire import CODEC
from superlite_mongodb.connection import open_connection

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer

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


def _decode(value: Any) -> Any:
    return CODEC.loads(json.dumps(value)) if isinstance(value, (dict, list)) else value


def open_mongo_source(db: Datalayer, listener: Listener) -> MongoListenerSource:
    """The listener source on the Datalayer's MongoDB database (its own client lease)."""
    return MongoListenerSource(db.settings.uri, listener)


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
             "backfill_done": False, "processed": 0, "rate": None, "lease_owner": None, "lease_until": None},
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

    def _documents(self, extra: dict[str, Any], limit: int = 0) -> Iterator[tuple[SourceId, Any]]:
        query = {"$and": [self.filter, extra]} if self.filter else extra
        for doc in self.source.find(query, {self.path: 1}).sort("_id", ASCENDING).limit(limit):
            value = _get(doc, self.path)
            value = _decode(value) if self.chained else value
            self._hashes[doc["_id"]] = _hash(value)
            yield doc["_id"], value

    def scan(self, cursor: Any, limit: int) -> list[tuple[SourceId, Any, str | None]]:
        """Documents after ``cursor`` by ``_id``, with the model uuid of their output."""
        page = list(self._documents({} if cursor is None else {"_id": {"$gt": cursor}}, limit))
        made_by = {doc["_id"]: doc["model_uuid"] for doc in self.out.find({"_id": {"$in": [i for i, _ in page]}}, {"model_uuid": 1})}
        return [(i, value, made_by.get(i)) for i, value in page]

    def changes(self, limit: int) -> list[Change]:
        """Compare key hashes with those stored beside outputs and errors (see the module docstring)."""
        changed: list[Change] = []
        stored = {doc["_id"]: doc.get("key_hash") for doc in self.out.find({}, {"key_hash": 1})}
        stored.update(
            (doc["source_id"], doc.get("key_hash")) for doc in self.error_docs.find({"listener": self.name}, {"source_id": 1, "key_hash": 1})
        )
        seen = set()
        cursor = None
        while len(changed) < limit:
            page = list(self._documents({} if cursor is None else {"_id": {"$gt": cursor}}, SCAN_PAGE))
            if not page:  # every document compared: outputs of documents not seen are stale
                changed.extend(Change(None, i) for i in stored if i not in seen)
                break
            for i, _ in page:
                seen.add(i)
                if stored.get(i) != self._hashes[i]:
                    changed.append(Change(None, i))
            cursor = page[-1][0]
        return changed[:limit]

    def read(self, ids: Sequence[SourceId]) -> dict[SourceId, Any]:
        """Key values of the documents among ``ids`` that exist and pass the filter."""
        return dict(self._documents({"_id": {"$in": list(ids)}}))

    def commit(self, model: Resolved, batch: Batch) -> None:
        """Upsert outputs (with their key hash), record errors, delete gone outputs, advance."""
        now = datetime.now(timezone.utc)
        # One upsert per document (mongomock has no bulk upserts matching current pymongo).
        for i, value in batch.outputs:
            self.out.replace_one(
                {"_id": i},
                {"output": CODEC.to_json_value(value), "model_uuid": model.uuid, "model_version": model.version,
                 "computed_at": now, "key_hash": self._hashes.get(i)},
                upsert=True,
            )
        if batch.deleted:
            self.out.delete_many({"_id": {"$in": list(batch.deleted)}})
        cleared = [i for i, _ in batch.outputs] + list(batch.deleted)
        if cleared:
            self.error_docs.delete_many({"listener": self.name, "source_id": {"$in": cleared}})
        for i, message in batch.errors:
            self.error_docs.replace_one(
                {"listener": self.name, "source_id": i},
                {"listener": self.name, "source_id": i, "model_uuid": model.uuid, "model_version": model.version,
                 "error": message, "failed_at": time.time(), "key_hash": self._hashes.get(i)},
                upsert=True,
            )
        count = len(batch.outputs) + len(batch.errors) + len(batch.deleted)
        update: dict[str, Any] = {"$inc": {"processed": count}}
        values: dict[str, Any] = {}
        if batch.cursor is not None:
            values["cursor"] = batch.cursor
        if batch.seconds > 0 and count:
            values["rate"] = count / batch.seconds
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
        return {doc["_id"]: _decode(doc["output"]) for doc in self.out.find({}, {"output": 1})}

    def errors(self) -> dict[SourceId, str]:
        """``{_id: error}`` for documents whose model call failed."""
        return {doc["source_id"]: doc["error"] for doc in self.error_docs.find({"listener": self.name})}

    def lag(self) -> Lag:
        """Changed documents (found by comparing hashes), rows the back-fill has yet to pass, errors."""
        current = self.state()
        remaining = 0
        if not current.backfill_done:
            extra = {} if current.cursor is None else {"_id": {"$gt": current.cursor}}
            remaining = self.source.count_documents({"$and": [self.filter, extra]} if self.filter else extra)
        pending = 0 if not current.backfill_done else len(self.changes(SCAN_PAGE))
        return Lag(pending, None, remaining, self.error_docs.count_documents({"listener": self.name}))
