"""Component records in MongoDB collections.

Two collections, one per kind of record, both prefixed (``superlite_`` by default) so they sit
beside a team's own collections:

* ``<prefix>components``: one document per component version (see
  :mod:`superlite_mongodb.documents`), ``_id`` = uuid, a unique index on
  ``(type_id, identifier, version)`` and multikey indexes on ``dependencies`` and
  ``artifacts.sha256``;
* ``<prefix>meta``: the schema version (see :mod:`superlite_mongodb.migrations`) and the
  counter of the change feed;
* ``<prefix>changes``: the change feed (see :mod:`superlite_mongodb.changes`).

Atomicity. An insert writes one document, which MongoDB applies atomically everywhere, so no
deployment ever shows half a component. A delete of several records uses a multi-document
transaction where the deployment has them (replica set, sharded cluster). Where it does not
(standalone server, mongomock) records are deleted one by one, dependents before the records
they depend on: an interruption leaves a set of whole records, none of which refers to one that
is gone, and running the same delete again finishes the job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bson.errors import InvalidDocument
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from superlite.common.json_values import json_value
from superlite.errors import (
    NotFoundError,
    SerializationError,
    SuperliteError,
    VersionConflictError,
)
from superlite.stores.base import ChangeEvent, ComponentRecord, MetadataStore, SchemaStatus
from superlite_mongodb.aliases import MongoAliases
from superlite_mongodb.changes import ChangeFeed, event_document
from superlite_mongodb.connection import MongoConnection
from superlite_mongodb.documents import from_document, to_document
from superlite_mongodb.migrations import SchemaSteps
from superlite_mongodb.workers import MongoWorkers

DEFAULT_PREFIX = "superlite_"



class MongoMetadataStore(MongoAliases, MongoWorkers, MetadataStore):
    """A :class:`~superlite.stores.base.MetadataStore` on a MongoDB (or mongomock) database.

    Opening checks the schema version (raising :class:`~superlite.errors.SchemaVersionError`
    for a database written by a newer superlite), then runs the missing schema steps unless
    ``auto_upgrade`` is False.
    """

    def __init__(self, connection: MongoConnection, prefix: str = DEFAULT_PREFIX, *, auto_upgrade: bool = True) -> None:
        self._connection = connection
        self._give_back = connection.leases.take()
        self._closed = False
        database = connection.database
        self._components = database[f"{prefix}components"]
        self._schema = SchemaSteps(database, prefix, connection.description)
        self._feed = ChangeFeed(database, prefix, connection.client, connection.transactions)
        try:
            if auto_upgrade:
                self._schema.upgrade()
            else:
                self._schema.status()
            self._open_aliases(database, prefix)
            self._open_workers(database, prefix)
        except BaseException:
            self.close()
            raise

    def insert(self, record: ComponentRecord) -> None:
        """Insert ``record`` as one document: atomic on every MongoDB deployment.

        Raises :class:`~superlite.errors.VersionConflictError` when its version is taken, and
        :class:`~superlite.errors.SerializationError` when its parameters are not JSON values.
        """
        document = to_document(record)
        event = event_document("apply", document, {"content_hash": record.content_hash})

        def _insert(session: Any) -> bool:
            self._components.insert_one(document, session=session)
            return True

        try:
            self._feed.write(lambda session: [event], _insert)
        except (InvalidDocument, OverflowError) as exc:
            raise SerializationError(
                f"cannot store {record.type_id} {record.identifier!r} in MongoDB: {exc}"
            ) from None
        except DuplicateKeyError as exc:
            if self._is_version_conflict(exc, record):
                raise VersionConflictError(
                    f"{record.type_id} {record.identifier!r} version {record.version} already exists "
                    f"(written by a concurrent apply)"
                ) from None
            raise SuperliteError(f"a component with uuid {record.uuid} is already stored") from None

    def _is_version_conflict(self, exc: DuplicateKeyError, record: ComponentRecord) -> bool:
        # A real server names the violated index in the error; mongomock gives no details, so
        # there the uuid is looked up: if it is not stored, the version index refused the insert.
        details = exc.details or {}
        if "keyPattern" in details:
            return "version" in details["keyPattern"]
        return self._components.count_documents({"_id": record.uuid}, limit=1) == 0

    def get(self, type_id: str, identifier: str, version: int | None = None) -> ComponentRecord | None:
        """The record of one version (the highest when ``version`` is None), or None."""
        query: dict[str, Any] = {"type_id": type_id, "identifier": identifier}
        if version is not None:
            query["version"] = version
        document = self._components.find_one(query, sort=[("version", DESCENDING)])
        return from_document(document) if document else None

    def find_by_content(self, type_id: str, identifier: str, content_hash: str) -> ComponentRecord | None:
        """The lowest version of ``identifier`` with this content hash, or None (one query)."""
        query = {"type_id": type_id, "identifier": identifier, "content_hash": content_hash}
        document = self._components.find_one(query, sort=[("version", ASCENDING)])
        return from_document(document) if document else None

    def update_info(self, uuid: str, info: Mapping[str, object]) -> None:
        """Replace the ``info`` of the record ``uuid`` (NotFoundError when there is none)."""
        value = json_value(dict(info), f"cannot store the metadata of {uuid}")
        change = {"$set": {"info": value}} if value else {"$unset": {"info": ""}}
        if self._components.update_one({"_id": uuid}, change).matched_count == 0:
            raise NotFoundError(f"no record with uuid {uuid}")

    def get_by_uuid(self, uuid: str) -> ComponentRecord | None:
        """The record with this uuid, or None."""
        document = self._components.find_one({"_id": uuid})
        return from_document(document) if document else None

    def type_ids(self) -> list[str]:
        """Every type_id that has at least one record, sorted."""
        return sorted(self._components.distinct("type_id"))

    def identifiers(self, type_id: str) -> list[str]:
        """Every identifier of ``type_id`` that has at least one record, sorted."""
        return sorted(self._components.distinct("identifier", {"type_id": type_id}))

    def versions(self, type_id: str, identifier: str) -> list[int]:
        """The versions of one identifier, oldest first."""
        cursor = self._components.find(
            {"type_id": type_id, "identifier": identifier}, {"version": 1}, sort=[("version", ASCENDING)]
        )
        return [document["version"] for document in cursor]

    def dependents(self, uuids: Iterable[str]) -> list[ComponentRecord]:
        """Records that depend on any of ``uuids`` (and are not among them)."""
        wanted = list(uuids)
        cursor = self._components.find(
            {"dependencies": {"$in": wanted}, "_id": {"$nin": wanted}},
            sort=[("type_id", ASCENDING), ("identifier", ASCENDING), ("version", ASCENDING)],
        )
        return [from_document(document) for document in cursor]

    def delete(self, uuids: Iterable[str]) -> None:
        """Delete these records: in one transaction where the deployment has them, else in order.

        Without transactions, dependents go before the records they depend on, so an
        interrupted delete never leaves a record pointing at a deleted one; repeat it to finish.
        """
        wanted = list(dict.fromkeys(uuids))
        if not wanted:
            return
        if self._connection.transactions:
            self._feed.write(
                lambda session: self._removal_events(wanted, session),
                lambda session: self._components.delete_many({"_id": {"$in": wanted}}, session=session).deleted_count > 0,
            )
            return
        for uuid in self._deletion_order(wanted):
            self._feed.write(
                lambda session, uuid=uuid: self._removal_events([uuid], session),
                lambda session, uuid=uuid: self._components.delete_one({"_id": uuid}).deleted_count == 1,
            )

    def _removal_events(self, uuids: list[str], session: Any) -> list[dict[str, Any]]:
        projection = {"type_id": 1, "identifier": 1, "version": 1}
        order = [("type_id", ASCENDING), ("identifier", ASCENDING), ("version", ASCENDING)]
        found = self._components.find({"_id": {"$in": uuids}}, projection, sort=order, session=session)
        return [event_document("remove", document) for document in found]

    def _deletion_order(self, uuids: list[str]) -> list[str]:
        pending = {
            document["_id"]: set(document.get("dependencies", ()))
            for document in self._components.find({"_id": {"$in": uuids}}, {"dependencies": 1})
        }
        order: list[str] = []
        while pending:
            needed = set().union(*pending.values())
            ready = sorted(uuid for uuid in pending if uuid not in needed) or sorted(pending)
            for uuid in ready:
                order.append(uuid)
                del pending[uuid]
        return order

    def artifact_references(self, sha256: str) -> int:
        """How many component records refer to the artifact ``sha256``."""
        return self._components.count_documents({"artifacts.sha256": sha256})

    def referenced_artifacts(self) -> set[str]:
        """The SHA-256 of every artifact some record refers to."""
        return set(self._components.distinct("artifacts.sha256"))

    def changes(self, since: int = 0, limit: int = 1000) -> list[ChangeEvent]:
        """The change events with an id above ``since``, oldest first, at most ``limit``."""
        return self._feed.read(since, limit)

    def last_change_id(self) -> int:
        """The id below which every change event is visible (0 before any change)."""
        return self._feed.last_id()

    def wait_for_changes(self, seconds: float) -> bool:
        """Wait on a change stream of the feed (replica sets); False at once where there is none."""
        return self._feed.wait(seconds)

    def schema_status(self) -> SchemaStatus:
        """The applied schema steps, the newest this release has, and those still to run."""
        return self._schema.status()

    def upgrade(self) -> SchemaStatus:
        """Run the missing schema steps (one process at a time) and return the new status."""
        return self._schema.upgrade()

    def close(self) -> None:
        """Release this store's share of the connection. Calling it twice is harmless."""
        if not self._closed:
            self._closed = True
            self._feed.close()
            self._give_back()
