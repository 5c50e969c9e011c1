"""Aliases in MongoDB: one document per alias, compare-and-set on its revision, and a history.

The alias document is the source of truth and every move is one conditional single-document
write, atomic on every deployment, made through the change feed (which writes its ``alias``
event with it, see :mod:`superlite_mongodb.changes`). The history entry is written right after it, numbered from a
counter document: a process that dies between the two writes leaves the move without its
history entry, never a history entry without its move.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from superlite.errors import VersionConflictError
from superlite.stores.base import AliasChange, AliasState

_HISTORY_COUNTER = "alias_history"


class MongoAliases:
    """The alias part of :class:`~superlite_mongodb.metadata.MongoMetadataStore`."""

    _feed: Any  # the store's ChangeFeed

    def _open_aliases(self, database: Any, prefix: str) -> None:
        self._aliases = database[f"{prefix}aliases"]
        self._alias_history = database[f"{prefix}alias_history"]
        self._counters = database[f"{prefix}counters"]

    def aliases(self, type_id: str, identifier: str | None = None) -> list[AliasState]:
        """The aliases of one identifier (or of every identifier of ``type_id``), sorted by name."""
        query: dict[str, Any] = {"type_id": type_id}
        if identifier is not None:
            query["identifier"] = identifier
        documents = self._aliases.find(query).sort([("identifier", ASCENDING), ("alias", ASCENDING)])
        return [_state(document) for document in documents]

    def alias(self, type_id: str, identifier: str, alias: str) -> AliasState | None:
        """One alias's state, or None when it is not set."""
        document = self._aliases.find_one({"_id": _key(type_id, identifier, alias)})
        return _state(document) if document is not None else None

    def write_alias(self, change: AliasChange, state: AliasState | None, expected_revision: int) -> None:
        """Compare-and-set one alias on its revision (with its change event), then append ``change`` to its history."""
        moved: list[bool] = []

        def compare_and_set(session: Any) -> bool:
            moved.append(self._compare_and_set(change, state, expected_revision, session))
            return moved[-1]

        self._feed.write(lambda session: [{**change.event(state), "created_at": utcnow()}], compare_and_set)
        if not moved[-1]:
            raise VersionConflictError(
                f"alias {change.alias!r} of {change.type_id} {change.identifier!r} was changed by another "
                f"process meanwhile (expected revision {expected_revision})"
            )
        self.record_alias_change(change)

    def record_alias_change(self, change: AliasChange) -> None:
        """Append ``change`` to the alias's history (numbered from the counter document)."""
        counter = self._counters.find_one_and_update(
            {"_id": _HISTORY_COUNTER}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        self._alias_history.insert_one(
            {
                "_id": counter["value"], "type_id": change.type_id, "identifier": change.identifier,
                "alias": change.alias, "action": change.action, "before": change.before, "after": change.after,
                "who": change.who, "why": change.why, "at": change.at or utcnow(),
            }
        )

    def _compare_and_set(self, change: AliasChange, state: AliasState | None, expected: int, session: Any) -> bool:
        key = _key(change.type_id, change.identifier, change.alias)
        if state is None:
            return self._aliases.delete_one({"_id": key, "revision": expected}, session=session).deleted_count == 1
        document = _document(state)
        if expected == 0:
            try:
                self._aliases.insert_one({"_id": key, **document}, session=session)
            except DuplicateKeyError:
                return False
            return True
        found = self._aliases.update_one({"_id": key, "revision": expected}, {"$set": document}, session=session)
        return found.matched_count == 1

    def alias_history(self, type_id: str, identifier: str, alias: str | None = None, limit: int = 100) -> list[AliasChange]:
        """The alias changes of one identifier (one alias's when given), newest first."""
        query: dict[str, Any] = {"type_id": type_id, "identifier": identifier}
        if alias is not None:
            query["alias"] = alias
        documents = self._alias_history.find(query).sort("_id", DESCENDING).limit(limit)
        return [
            AliasChange(
                d["type_id"], d["identifier"], d["alias"], d["action"], d["before"], d["after"], d["who"], d["why"],
                _aware(d["at"]), d["_id"],
            )
            for d in documents
        ]


def alias_moved(aliases: Any, event: dict[str, Any]) -> bool:
    """Whether the alias move ``event`` describes happened (to settle an event left pending)."""
    payload = event["payload"]
    key = _key(event["type_id"], event["identifier"], payload["alias"])
    current = aliases.find_one({"_id": key})
    if payload["revision"] is None:
        return current is None
    return current is not None and current["revision"] >= payload["revision"]


def _key(type_id: str, identifier: str, alias: str) -> dict[str, str]:
    return {"type_id": type_id, "identifier": identifier, "alias": alias}


def _document(state: AliasState) -> dict[str, Any]:
    return {
        "type_id": state.type_id, "identifier": state.identifier, "alias": state.alias, "version": state.version,
        "uuid": state.uuid, "canary_version": state.canary_version, "canary_uuid": state.canary_uuid,
        "canary_percent": state.canary_percent, "previous_version": state.previous_version,
        "revision": state.revision, "updated_at": state.updated_at or utcnow(),
    }


def _state(d: dict[str, Any]) -> AliasState:
    return AliasState(
        d["type_id"], d["identifier"], d["alias"], d["version"], d["uuid"], d["canary_version"], d["canary_uuid"],
        d["canary_percent"], d["previous_version"], d["revision"], _aware(d["updated_at"]),
    )


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # BSON dates come back naive (in UTC) unless the client was opened tz_aware.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
