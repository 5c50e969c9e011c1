"""Aliases in a SQL database: one row per alias, an append-only history, compare-and-set moves."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from superlite.errors import VersionConflictError
from superlite.stores.base import AliasChange, AliasState
from superlite.stores.sql.changes import write_events
from superlite.stores.sql.engine import reporting, write_transaction
from superlite.stores.sql.schema import alias_history, aliases, utcnow


class SQLAliases:
    """The alias part of :class:`~superlite.stores.sql.metadata.SQLMetadataStore`."""

    _engine: Engine

    def aliases(self, type_id: str, identifier: str | None = None) -> list[AliasState]:
        """The aliases of one identifier (or of every identifier of ``type_id``), sorted by name."""
        query = sa.select(aliases).where(aliases.c.type_id == type_id)
        if identifier is not None:
            query = query.where(aliases.c.identifier == identifier)
        with reporting(self._engine), self._engine.connect() as connection:
            rows = connection.execute(query.order_by(aliases.c.identifier, aliases.c.alias)).mappings().all()
        return [_state(row) for row in rows]

    def alias(self, type_id: str, identifier: str, alias: str) -> AliasState | None:
        """One alias's state, or None when it is not set."""
        with reporting(self._engine), self._engine.connect() as connection:
            row = connection.execute(sa.select(aliases).where(*_key(type_id, identifier, alias))).mappings().first()
        return _state(row) if row is not None else None

    def write_alias(self, change: AliasChange, state: AliasState | None, expected_revision: int) -> None:
        """Compare-and-set one alias and append ``change`` to its history, in one transaction."""

        def move(connection: Connection) -> None:
            if not _compare_and_set(connection, change, state, expected_revision):
                raise VersionConflictError(
                    f"alias {change.alias!r} of {change.type_id} {change.identifier!r} was changed by another "
                    f"process meanwhile (expected revision {expected_revision})"
                )
            _append(connection, change)
            write_events(connection, [{**change.event(state), "created_at": change.at or utcnow()}])

        write_transaction(self._engine, move)

    def record_alias_change(self, change: AliasChange) -> None:
        """Append ``change`` to the alias's history; the alias itself is not touched."""
        write_transaction(self._engine, lambda connection: _append(connection, change))

    def alias_history(self, type_id: str, identifier: str, alias: str | None = None, limit: int = 100) -> list[AliasChange]:
        """The alias changes of one identifier (one alias's when given), newest first."""
        query = sa.select(alias_history).where(alias_history.c.type_id == type_id, alias_history.c.identifier == identifier)
        if alias is not None:
            query = query.where(alias_history.c.alias == alias)
        with reporting(self._engine), self._engine.connect() as connection:
            rows = connection.execute(query.order_by(alias_history.c.id.desc()).limit(limit)).mappings().all()
        return [
            AliasChange(
                row["type_id"], row["identifier"], row["alias"], row["action"], row["before"], row["after"],
                row["who"], row["why"], row["at"], row["id"],
            )
            for row in rows
        ]


def _append(connection: Connection, change: AliasChange) -> None:
    connection.execute(
        alias_history.insert().values(
            type_id=change.type_id, identifier=change.identifier, alias=change.alias,
            action=change.action, before=change.before, after=change.after,
            who=change.who, why=change.why, at=change.at or utcnow(),
        )
    )


def _key(type_id: str, identifier: str, alias: str) -> tuple[Any, ...]:
    return aliases.c.type_id == type_id, aliases.c.identifier == identifier, aliases.c.alias == alias


def _compare_and_set(connection: Connection, change: AliasChange, state: AliasState | None, expected: int) -> bool:
    key = _key(change.type_id, change.identifier, change.alias)
    if state is None:
        return connection.execute(sa.delete(aliases).where(*key, aliases.c.revision == expected)).rowcount == 1
    values = _values(state)
    if expected == 0:
        try:
            with connection.begin_nested():
                connection.execute(aliases.insert().values(**values))
        except sa.exc.IntegrityError:
            return False
        return True
    return connection.execute(sa.update(aliases).where(*key, aliases.c.revision == expected).values(**values)).rowcount == 1


def _values(state: AliasState) -> dict[str, object]:
    return {
        "type_id": state.type_id, "identifier": state.identifier, "alias": state.alias,
        "version": state.version, "uuid": state.uuid, "canary_version": state.canary_version,
        "canary_uuid": state.canary_uuid, "canary_percent": state.canary_percent,
        "previous_version": state.previous_version, "revision": state.revision,
        "updated_at": state.updated_at or utcnow(),
    }


def _state(row: Any) -> AliasState:
    return AliasState(
        row["type_id"], row["identifier"], row["alias"], row["version"], row["uuid"], row["canary_version"],
        row["canary_uuid"], row["canary_percent"], row["previous_version"], row["revision"], row["updated_at"],
    )
