"""Worker status documents and pending alias moves in MongoDB (the hot-swap coordination collections).

``<prefix>workers``: one document per serving process, ``_id`` = its id, replaced at each heartbeat.
``<prefix>alias_pending``: one document per pending alias move, ``_id`` = the move's id.
Every write is a single-document write, atomic on every deployment.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING

from superlite.stores.base import PendingMove, WorkerStatus


class MongoWorkers:
    """The worker-status and pending-move part of :class:`~superlite_mongodb.metadata.MongoMetadataStore`."""

    def _open_workers(self, database: Any, prefix: str) -> None:
        self._workers = database[f"{prefix}workers"]
        self._pending = database[f"{prefix}alias_pending"]

    def write_worker(self, status: WorkerStatus) -> None:
        """Replace the worker's document (inserting it the first time)."""
        document = {
            "host": status.host, "pid": status.pid, "queues": list(status.queues), "follow": list(status.follow),
            "policy": status.policy, "loaded": [dict(m) for m in status.loaded],
            "targets": {uuid: dict(target) for uuid, target in status.targets.items()},
            "heartbeat_interval": status.heartbeat_interval, "started_at": status.started_at or _now(),
            "heartbeat_at": status.heartbeat_at or _now(),
        }
        self._workers.replace_one({"_id": status.id}, document, upsert=True)

    def workers(self) -> list[WorkerStatus]:
        """Every worker document, sorted by id."""
        return [
            WorkerStatus(
                d["_id"], d["host"], d["pid"], tuple(d["queues"]), tuple(d["follow"]), d["policy"], tuple(d["loaded"]),
                d["targets"], d["heartbeat_interval"], _aware(d["started_at"]), _aware(d["heartbeat_at"]),
            )
            for d in self._workers.find().sort("_id", ASCENDING)
        ]

    def remove_workers(self, ids: Iterable[str]) -> None:
        """Delete these workers' documents."""
        doomed = list(ids)
        if doomed:
            self._workers.delete_many({"_id": {"$in": doomed}})

    def add_pending(self, move: PendingMove) -> None:
        """Insert one pending move."""
        self._pending.insert_one(
            {
                "_id": move.id, "type_id": move.type_id, "identifier": move.identifier, "alias": move.alias,
                "uuids": list(move.uuids), "requested_by": move.requested_by, "requested_at": _now(),
                "expires_at": move.expires_at,
            }
        )

    def pending_moves(self) -> list[PendingMove]:
        """Every pending move, oldest first."""
        return [
            PendingMove(
                d["_id"], d["type_id"], d["identifier"], d["alias"], tuple(d["uuids"]), d["requested_by"],
                _aware(d["expires_at"]),  # type: ignore[arg-type]
            )
            for d in self._pending.find().sort([("requested_at", ASCENDING), ("_id", ASCENDING)])
        ]

    def remove_pending(self, ids: Iterable[str]) -> None:
        """Delete these pending moves."""
        doomed = list(ids)
        if doomed:
            self._pending.delete_many({"_id": {"$in": doomed}})


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # BSON dates come back naive (in UTC) unless the client was opened tz_aware.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
