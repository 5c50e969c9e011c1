"""Component records in SQL tables: one row per version, plus its artifact references and dependencies.

Every insert and delete also writes its :class:`~superlite.stores.base.ChangeEvent` to
``superlite_changes`` in the same transaction. Change ids come from the one row of
``superlite_change_counter``, locked by the writer until it commits: autoincrement ids could
commit out of order on PostgreSQL and MariaDB, a locked counter cannot (it serializes the writers
of changes, which are rare). PostgreSQL is also told ``NOTIFY superlite_changes, '<id>'``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from superlite.common.json_values import json_value
from superlite.errors import NotFoundError, SuperliteError, VersionConflictError
from superlite.stores.base import ArtifactRef, ChangeEvent, ComponentRecord, MetadataStore, SchemaStatus
from superlite.stores.sql import migrate
from superlite.stores.sql.aliases import SQLAliases
from superlite.stores.sql.changes import NOTIFY_CHANNEL, write_events
from superlite.stores.sql.engine import reporting, retrying, write_transaction, writer
from superlite.stores.sql.notify import Notifications
from superlite.stores.sql.schema import (
    change_counter,
    changes,
    component_artifacts,
    components,
    dependencies,
    utcnow,
)
from superlite.stores.sql.workers import SQLWorkers


class SQLMetadataStore(SQLAliases, SQLWorkers, MetadataStore):
    """A :class:`~superlite.stores.base.MetadataStore` on any database SQLAlchemy speaks.

    ``(type_id, identifier, version)`` is a unique constraint, so two processes that pick the
    same version cannot both win: the loser gets :class:`~superlite.errors.VersionConflictError`.
    """

    def __init__(self, engine: Engine, *, release: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._notifications = Notifications(engine, NOTIFY_CHANNEL)
        self._writer = writer(engine)
        self._release = release or engine.dispose

    def insert(self, record: ComponentRecord) -> None:
        """Write the record, its artifact references and its dependencies in one transaction."""
        what = _describe(record)
        # Checked up front: each driver reports a bad value differently, some mid-statement.
        json_value(dict(record.params), f"cannot store {what}: its parameters")
        with reporting(self._engine):
            try:
                retrying(lambda: self._insert(record))
            except sa.exc.IntegrityError as exc:
                raise self._conflict(record, exc) from exc
            except sa.exc.DataError as exc:
                raise SuperliteError(f"cannot store {what}: {exc.orig}") from exc

    def _insert(self, record: ComponentRecord) -> None:
        with self._writer.begin() as connection:
            connection.execute(
                components.insert().values(
                    uuid=record.uuid,
                    type_id=record.type_id,
                    identifier=record.identifier,
                    version=record.version,
                    class_path=record.class_path,
                    params=dict(record.params),
                    content_hash=record.content_hash,
                    created_at=record.created_at or utcnow(),
                    info=dict(record.info) or None,
                )
            )
            if record.artifacts:
                connection.execute(
                    component_artifacts.insert(),
                    [
                        {
                            "component_uuid": record.uuid,
                            "name": ref.name,
                            "position": position,
                            "sha256": ref.digest,
                            "size": ref.size,
                            "serializer": ref.serializer,
                        }
                        for position, ref in enumerate(record.artifacts)
                    ],
                )
            if record.dependencies:
                connection.execute(
                    dependencies.insert(),
                    [
                        {"component_uuid": record.uuid, "depends_on": uuid, "position": position}
                        for position, uuid in enumerate(dict.fromkeys(record.dependencies))
                    ],
                )
            write_events(connection, [_event("apply", record)])

    def _conflict(self, record: ComponentRecord, exc: sa.exc.IntegrityError) -> SuperliteError:
        # Every backend words constraint violations its own way; ask the data what collided.
        with self._engine.connect() as connection:
            taken = connection.scalar(
                sa.select(components.c.uuid).where(
                    components.c.type_id == record.type_id,
                    components.c.identifier == record.identifier,
                    components.c.version == record.version,
                )
            )
            uuid_exists = connection.scalar(sa.select(components.c.uuid).where(components.c.uuid == record.uuid))
        what = _describe(record)
        if taken is not None and taken != record.uuid:
            return VersionConflictError(f"{what} already exists (uuid {taken}); pick the next version")
        if uuid_exists is not None:
            return SuperliteError(f"cannot store {what}: a component with uuid {record.uuid} already exists")
        return SuperliteError(f"cannot store {what}: {exc.orig}")

    def get(self, type_id: str, identifier: str, version: int | None = None) -> ComponentRecord | None:
        """One version of a component (the highest when ``version`` is None), or None."""
        query = sa.select(components).where(components.c.type_id == type_id, components.c.identifier == identifier)
        if version is None:
            query = query.order_by(components.c.version.desc()).limit(1)
        else:
            query = query.where(components.c.version == version)
        return self._one(query)

    def find_by_content(self, type_id: str, identifier: str, content_hash: str) -> ComponentRecord | None:
        """The lowest version of ``identifier`` with this content hash, or None (one query)."""
        query = (
            sa.select(components)
            .where(components.c.type_id == type_id, components.c.identifier == identifier)
            .where(components.c.content_hash == content_hash)
            .order_by(components.c.version)
            .limit(1)
        )
        return self._one(query)

    def update_info(self, uuid: str, info: Mapping[str, object]) -> None:
        """Replace the ``info`` of the record ``uuid`` (NotFoundError when there is none)."""
        json_value(dict(info), f"cannot store the metadata of {uuid}")
        query = sa.update(components).where(components.c.uuid == uuid).values(info=dict(info) or None)
        updated = write_transaction(self._engine, lambda connection: connection.execute(query).rowcount)
        if not updated:
            raise NotFoundError(f"no record with uuid {uuid}")

    def get_by_uuid(self, uuid: str) -> ComponentRecord | None:
        """The record with this uuid, or None."""
        return self._one(sa.select(components).where(components.c.uuid == uuid))

    def _one(self, query: sa.Select[tuple[object, ...]]) -> ComponentRecord | None:
        with reporting(self._engine), self._engine.connect() as connection:
            records = _load(connection, query)
        return records[0] if records else None

    def type_ids(self) -> list[str]:
        """Every type_id with at least one record, sorted."""
        return sorted(self._scalars(sa.select(components.c.type_id).distinct()))

    def identifiers(self, type_id: str) -> list[str]:
        """Every identifier of ``type_id`` with at least one record, sorted."""
        query = sa.select(components.c.identifier).where(components.c.type_id == type_id).distinct()
        return sorted(self._scalars(query))

    def versions(self, type_id: str, identifier: str) -> list[int]:
        """The versions of one identifier, oldest first."""
        query = (
            sa.select(components.c.version)
            .where(components.c.type_id == type_id, components.c.identifier == identifier)
            .order_by(components.c.version)
        )
        return self._scalars(query)

    def _scalars(self, query: sa.Select[tuple[Any]]) -> list[Any]:
        with reporting(self._engine), self._engine.connect() as connection:
            return list(connection.scalars(query))

    def dependents(self, uuids: Iterable[str]) -> list[ComponentRecord]:
        """Records that depend on any of ``uuids`` and are not among them, ordered by name and version."""
        wanted = list(dict.fromkeys(uuids))
        if not wanted:
            return []
        depending = sa.select(dependencies.c.component_uuid).where(dependencies.c.depends_on.in_(wanted))
        query = sa.select(components).where(components.c.uuid.in_(depending), components.c.uuid.not_in(wanted))
        with reporting(self._engine), self._engine.connect() as connection:
            return _load(connection, query)

    def delete(self, uuids: Iterable[str]) -> None:
        """Delete these records with their artifact references and dependencies, in one transaction."""
        doomed = list(dict.fromkeys(uuids))
        if not doomed:
            return

        def _delete() -> None:
            with self._writer.begin() as connection:
                # Locked, so that of two concurrent deletes of one record only one reports it.
                present = connection.execute(
                    sa.select(components.c.uuid, components.c.type_id, components.c.identifier, components.c.version)
                    .where(components.c.uuid.in_(doomed))
                    .order_by(components.c.type_id, components.c.identifier, components.c.version)
                    .with_for_update()
                ).all()
                connection.execute(component_artifacts.delete().where(component_artifacts.c.component_uuid.in_(doomed)))
                connection.execute(dependencies.delete().where(dependencies.c.component_uuid.in_(doomed)))
                connection.execute(components.delete().where(components.c.uuid.in_(doomed)))
                write_events(connection, [_event("remove", row) for row in present])

        with reporting(self._engine):
            retrying(_delete)

    def artifact_references(self, sha256: str) -> int:
        """How many component records refer to the artifact ``sha256``."""
        query = sa.select(sa.func.count(sa.distinct(component_artifacts.c.component_uuid))).where(
            component_artifacts.c.sha256 == sha256
        )
        with reporting(self._engine), self._engine.connect() as connection:
            return int(connection.scalar(query) or 0)

    def referenced_artifacts(self) -> set[str]:
        """The SHA-256 of every artifact some record refers to."""
        return set(self._scalars(sa.select(component_artifacts.c.sha256).distinct()))

    def changes(self, since: int = 0, limit: int = 1000) -> list[ChangeEvent]:
        """The changes with an id above ``since``, oldest first, at most ``limit``."""
        query = sa.select(changes).where(changes.c.id > since).order_by(changes.c.id).limit(limit)
        with reporting(self._engine), self._engine.connect() as connection:
            return [ChangeEvent(**row) for row in connection.execute(query).mappings()]

    def last_change_id(self) -> int:
        """The id of the latest committed change (0 when there is none)."""
        query = sa.select(change_counter.c.last_id).where(change_counter.c.id == 1)
        with reporting(self._engine), self._engine.connect() as connection:
            return int(connection.scalar(query) or 0)

    def schema_status(self) -> SchemaStatus:
        """The database's Alembic revision, this release's head, and the revisions in between."""
        return migrate.schema_status(self._engine)

    def upgrade(self) -> SchemaStatus:
        """Run the pending revisions (under the schema lock) and return the new status."""
        return migrate.upgrade(self._engine)

    def wait_for_changes(self, seconds: float) -> bool:
        """PostgreSQL: wait for the ``NOTIFY`` each committed change sends (or ``seconds``); elsewhere False at once."""
        if not self._notifications.supported:
            return False
        self._notifications.wait(seconds)
        return True

    def close(self) -> None:
        """Give up this store's use of the engine; the last store of a bundle to close disposes it."""
        self._notifications.close()
        self._release()


def _describe(record: ComponentRecord) -> str:
    return f"{record.type_id} {record.identifier!r} version {record.version}"


def _event(kind: str, record: ComponentRecord | sa.Row[Any]) -> dict[str, Any]:
    payload = {"content_hash": record.content_hash} if isinstance(record, ComponentRecord) else {}
    return {
        "kind": kind,
        "type_id": record.type_id,
        "identifier": record.identifier,
        "uuid": record.uuid,
        "version": record.version,
        "payload": payload,
        "created_at": utcnow(),
    }


def _load(connection: Connection, query: sa.Select[tuple[object, ...]]) -> list[ComponentRecord]:
    rows = connection.execute(query).mappings().all()
    if not rows:
        return []
    uuids = [row["uuid"] for row in rows]
    refs: dict[str, list[ArtifactRef]] = {uuid: [] for uuid in uuids}
    for ref in connection.execute(
        sa.select(component_artifacts)
        .where(component_artifacts.c.component_uuid.in_(uuids))
        .order_by(component_artifacts.c.component_uuid, component_artifacts.c.position)
    ).mappings():
        refs[ref["component_uuid"]].append(
            ArtifactRef(name=ref["name"], digest=ref["sha256"], size=ref["size"], serializer=ref["serializer"])
        )
    deps: dict[str, list[str]] = {uuid: [] for uuid in uuids}
    for dep in connection.execute(
        sa.select(dependencies.c.component_uuid, dependencies.c.depends_on)
        .where(dependencies.c.component_uuid.in_(uuids))
        .order_by(dependencies.c.component_uuid, dependencies.c.position)
    ):
        deps[dep.component_uuid].append(dep.depends_on)
    records = [_record(row, refs[row["uuid"]], deps[row["uuid"]]) for row in rows]
    return sorted(records, key=lambda r: (r.type_id, r.identifier, r.version))


def _record(row: sa.RowMapping, refs: Sequence[ArtifactRef], deps: Sequence[str]) -> ComponentRecord:
    return ComponentRecord(
        uuid=row["uuid"],
        type_id=row["type_id"],
        identifier=row["identifier"],
        version=row["version"],
        class_path=row["class_path"],
        params=row["params"],
        content_hash=row["content_hash"],
        artifacts=tuple(refs),
        dependencies=tuple(deps),
        created_at=row["created_at"],
        info=row["info"] or {},
    )
