"""Component records in MongoDB collections.

Two collections, one per kind of record, both prefixed (``superlite_`` by default) so they sit
beside a team's own collections:

* ``<prefix>components``: one document per component version (see
  :mod:`superlite_mongodb.documents`), ``_id`` = uuid, a unique index on
  ``(type_id, identifier, version)`` and multikey indexes on ``dependencies`` and
  ``artifacts.sha256``;
* ``<prefix>meta``: the schema version this database was written with.

Atomicity. An insert writes one document, which MongoDB applies atomically everywhere, so no
deployment ever shows half a component. A delete of several records uses a multi-document
transaction where the deployment has them (replica set, sharded cluster). Where it does not
(standalone server, mongomock) records are deleted one by one, dependents before the records
they depend on: an interruption leaves a set of whole records, none of which refers to one that
is gone, and running the same delete again finishes the job.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bson.errors import InvalidDocument
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from superlite.errors import (
    SchemaVersionError,
    SerializationError,
    SuperliteError,
    VersionConflictError,
)
from superlite.stores.base import SCHEMA_VERSION, ComponentRecord, MetadataStore
from superlite_mongodb.aliases import MongoAliases
from superlite_mongodb.connection import MongoConnection
from superlite_mongodb.documents import from_document, to_document
from superlite_mongodb.workers import MongoWorkers

DEFAULT_PREFIX = "superlite_"

VERSION_INDEX = "superlite_version_unique"
_VERSION_KEY = [("type_id", ASCENDING), ("identifier", ASCENDING), ("version", ASCENDING)]
_SCHEMA_ID = "schema"


class MongoMetadataStore(MongoAliases, MongoWorkers, MetadataStore):
    """A :class:`~superlite.stores.base.MetadataStore` on a MongoDB (or mongomock) database.

    Opening checks the schema version (raising :class:`~superlite.errors.SchemaVersionError`
    for a database written by a newer superlite), then creates the indexes it needs.
    """

    def __init__(self, connection: MongoConnection, prefix: str = DEFAULT_PREFIX) -> None:
        self._connection = connection
        self._give_back = connection.leases.take()
        self._closed = False
        database = connection.database
        self._components = database[f"{prefix}components"]
        self._meta = database[f"{prefix}meta"]
        try:
            self._check_schema()
            self._create_indexes()
            self._open_aliases(database, prefix)
            self._open_workers(database, prefix)
        except BaseException:
            self.close()
            raise

    def _check_schema(self) -> None:
        stored = self._meta.find_one({"_id": _SCHEMA_ID})
        if stored is not None and stored["version"] > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"MongoDB database {self._connection.description} has superlite schema version "
                f"{stored['version']}, newer than this release reads ({SCHEMA_VERSION}). "
                f"Upgrade superlite and superlite-mongodb to open it."
            )
        if stored is None:
            try:
                self._meta.update_one(
                    {"_id": _SCHEMA_ID}, {"$setOnInsert": {"version": SCHEMA_VERSION}}, upsert=True
                )
            except DuplicateKeyError:
                # A concurrent opener created it first (an upsert race on _id); theirs is ours.
                pass

    def _create_indexes(self) -> None:
        self._components.create_index(_VERSION_KEY, unique=True, name=VERSION_INDEX)
        self._components.create_index([("dependencies", ASCENDING)], name="superlite_dependencies")
        self._components.create_index([("artifacts.sha256", ASCENDING)], name="superlite_artifacts")

    def insert(self, record: ComponentRecord) -> None:
        """Insert ``record`` as one document: atomic on every MongoDB deployment.

        Raises :class:`~superlite.errors.VersionConflictError` when its version is taken, and
        :class:`~superlite.errors.SerializationError` when its parameters are not JSON values.
        """
        document = to_document(record)
        try:
            self._components.insert_one(document)
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
            with self._connection.client.start_session() as session:
                session.with_transaction(
                    lambda s: self._components.delete_many({"_id": {"$in": wanted}}, session=s)
                )
            return
        for uuid in self._deletion_order(wanted):
            self._components.delete_one({"_id": uuid})

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

    def close(self) -> None:
        """Release this store's share of the connection. Calling it twice is harmless."""
        if not self._closed:
            self._closed = True
            self._give_back()
