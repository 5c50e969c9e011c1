"""Versioned schema steps for MongoDB, recorded in ``<prefix>meta`` and run one process at a time.

The schema version is ``{"_id": "schema", "version": n}``: the number of :data:`STEPS` applied
(a database written before steps existed holds 1, which is step 1's result). Opening runs the
missing steps in order; each step is idempotent, so a step interrupted halfway simply runs again.
A version above ``len(STEPS)`` was written by a newer release and is refused.

Steps run under a lock document, ``{"_id": "migration_lock", "owner", "expires"}``, taken with
``find_one_and_update`` (an upsert that fails with a duplicate key while another owner's lock
has not expired), so two processes never run them at once, and a crashed one blocks others for
at most :data:`LOCK_TTL` seconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import CollectionInvalid, DuplicateKeyError

from superlite.errors import SchemaVersionError, StoreUnavailableError
from superlite.stores.base import SchemaStatus

#: Seconds a migration lock holds before another process may take it over.
LOCK_TTL = 60.0

#: Name of the unique index on ``(type_id, identifier, version)``.
VERSION_INDEX = "superlite_version_unique"

#: ``_id`` of the counter document (in ``<prefix>meta``) that numbers change events.
COUNTER_ID = "changes"

_SCHEMA_ID = "schema"
_LOCK_ID = "migration_lock"
_POLL = 0.05


def _components_indexes(database: Any, prefix: str) -> None:
    """Step 1: the indexes of ``<prefix>components``."""
    components = database[f"{prefix}components"]
    version_key = [("type_id", ASCENDING), ("identifier", ASCENDING), ("version", ASCENDING)]
    components.create_index(version_key, unique=True, name=VERSION_INDEX)
    components.create_index([("dependencies", ASCENDING)], name="superlite_dependencies")
    components.create_index([("artifacts.sha256", ASCENDING)], name="superlite_artifacts")


def _change_feed(database: Any, prefix: str) -> None:
    """Step 2: the ``<prefix>changes`` collection and the counter that numbers its events."""
    try:
        database.create_collection(f"{prefix}changes")
    except CollectionInvalid:
        pass  # created by an earlier, interrupted run of this step
    database[f"{prefix}meta"].update_one(
        {"_id": COUNTER_ID}, {"$setOnInsert": {"last": 0, "pending": []}}, upsert=True
    )


def _aliases(database: Any, prefix: str) -> None:
    """Step 3: the indexes of ``<prefix>aliases`` and ``<prefix>alias_history``."""
    database[f"{prefix}aliases"].create_index(
        [("type_id", ASCENDING), ("identifier", ASCENDING)], name="superlite_alias_owner"
    )
    database[f"{prefix}alias_history"].create_index(
        [("type_id", ASCENDING), ("identifier", ASCENDING), ("_id", DESCENDING)], name="superlite_alias_history"
    )


def _blake3_digests(database: Any, prefix: str) -> None:
    """Step 4: artifact digests may be ``blake3:<hex>``; nothing to change, but older releases must refuse."""


#: The steps in order; step ``n`` brings a database from version ``n - 1`` to ``n``.
STEPS: tuple[Callable[[Any, str], None], ...] = (_components_indexes, _change_feed, _aliases, _blake3_digests)


class SchemaSteps:
    """The schema version of one database (and prefix): reading it and running missing steps."""

    def __init__(self, database: Any, prefix: str, description: str) -> None:
        self._database = database
        self._prefix = prefix
        self._meta = database[f"{prefix}meta"]
        self._description = description

    def status(self) -> SchemaStatus:
        """The applied version, the newest, and the steps between (as strings, like SQL revisions)."""
        stored = self._meta.find_one({"_id": _SCHEMA_ID})
        current = int(stored["version"]) if stored else 0
        if current > len(STEPS):
            raise SchemaVersionError(
                f"MongoDB database {self._description} has superlite schema version {current}, "
                f"newer than this release reads ({len(STEPS)}). Upgrade superlite and "
                f"superlite-mongodb to open it."
            )
        return SchemaStatus(
            current=str(current) if stored else None,
            head=str(len(STEPS)),
            pending=tuple(str(n) for n in range(current + 1, len(STEPS) + 1)),
        )

    def upgrade(self) -> SchemaStatus:
        """Run the missing steps under the lock, recording each one as it finishes."""
        if self.status().up_to_date:
            return self.status()
        owner = self._lock()
        try:
            for number in self.status().pending:
                STEPS[int(number) - 1](self._database, self._prefix)
                self._meta.update_one({"_id": _SCHEMA_ID}, {"$max": {"version": int(number)}}, upsert=True)
        finally:
            self._meta.delete_one({"_id": _LOCK_ID, "owner": owner})
        return self.status()

    def _lock(self) -> str:
        owner = uuid.uuid4().hex
        give_up = time.monotonic() + 2 * LOCK_TTL
        while True:
            now = time.time()
            try:
                self._meta.find_one_and_update(
                    {"_id": _LOCK_ID, "expires": {"$lt": now}},
                    {"$set": {"owner": owner, "expires": now + LOCK_TTL}},
                    upsert=True,
                )
                return owner
            except DuplicateKeyError:
                if time.monotonic() > give_up:
                    raise StoreUnavailableError(
                        f"another process has been migrating MongoDB database {self._description} "
                        f"for over {2 * LOCK_TTL:.0f} s; try again later"
                    ) from None
                time.sleep(_POLL)
