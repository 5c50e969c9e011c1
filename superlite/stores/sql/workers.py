"""Worker status rows and pending alias moves in a SQL database (the hot-swap coordination tables)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from superlite.stores.base import PendingMove, WorkerStatus
from superlite.stores.sql.engine import reporting, write_transaction
from superlite.stores.sql.schema import alias_pending, utcnow, workers


class SQLWorkers:
    """The worker-status and pending-move part of :class:`~superlite.stores.sql.metadata.SQLMetadataStore`."""

    _engine: Engine

    def write_worker(self, status: WorkerStatus) -> None:
        """Update the worker's row, or insert it the first time (only that worker writes it)."""
        values = _worker_values(status)

        def upsert(connection: Connection) -> None:
            updated = connection.execute(sa.update(workers).where(workers.c.id == status.id).values(**values))
            if updated.rowcount == 0:
                connection.execute(workers.insert().values(**values))

        write_transaction(self._engine, upsert)

    def workers(self) -> list[WorkerStatus]:
        """Every worker row, sorted by id."""
        with reporting(self._engine), self._engine.connect() as connection:
            rows = connection.execute(sa.select(workers).order_by(workers.c.id)).mappings().all()
        return [_worker(row) for row in rows]

    def remove_workers(self, ids: Iterable[str]) -> None:
        """Delete these workers' rows."""
        doomed = list(ids)
        if doomed:
            query = workers.delete().where(workers.c.id.in_(doomed))
            write_transaction(self._engine, lambda connection: connection.execute(query))

    def add_pending(self, move: PendingMove) -> None:
        """Insert one pending move."""
        row = alias_pending.insert().values(
            id=move.id, type_id=move.type_id, identifier=move.identifier, alias=move.alias,
            uuids=list(move.uuids), requested_by=move.requested_by, requested_at=utcnow(), expires_at=move.expires_at,
        )
        write_transaction(self._engine, lambda connection: connection.execute(row))

    def pending_moves(self) -> list[PendingMove]:
        """Every pending move, oldest first."""
        query = sa.select(alias_pending).order_by(alias_pending.c.requested_at, alias_pending.c.id)
        with reporting(self._engine), self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            PendingMove(
                row["id"], row["type_id"], row["identifier"], row["alias"], tuple(row["uuids"]),
                row["requested_by"], row["expires_at"],
            )
            for row in rows
        ]

    def remove_pending(self, ids: Iterable[str]) -> None:
        """Delete these pending moves."""
        doomed = list(ids)
        if doomed:
            query = alias_pending.delete().where(alias_pending.c.id.in_(doomed))
            write_transaction(self._engine, lambda connection: connection.execute(query))


def _worker_values(status: WorkerStatus) -> dict[str, object]:
    return {
        "id": status.id, "host": status.host, "pid": status.pid, "queues": list(status.queues),
        "follow": list(status.follow), "policy": status.policy, "loaded": [dict(m) for m in status.loaded],
        "targets": {uuid: dict(target) for uuid, target in status.targets.items()},
        "heartbeat_interval": status.heartbeat_interval, "started_at": status.started_at or utcnow(),
        "heartbeat_at": status.heartbeat_at or utcnow(),
    }


def _worker(row: Any) -> WorkerStatus:
    return WorkerStatus(
        row["id"], row["host"], row["pid"], tuple(row["queues"]), tuple(row["follow"]), row["policy"],
        tuple(row["loaded"]), row["targets"], row["heartbeat_interval"], row["started_at"], row["heartbeat_at"],
    )
