"""Listeners on SQL tables: triggers per dialect write changed row ids into a queue table.

Tables this module owns, created when the first listener is applied (``CREATE ... IF NOT
EXISTS``), never by the metadata store's schema:

* ``_superlite_listener_queue``: ``(seq, listener, source_id, queued_at)``, one row per change,
  written by the triggers in the writer's own transaction, so any application's writes count;
* ``_superlite_listener_state``: per listener, the model version in force, the back-fill cursor,
  the processing lease (several ``superlite listen`` processes share the work) and counters;
* ``_superlite_listener_errors``: per listener and row, the model's error under that version;
* ``_outputs__<listener>``: ``source_id`` (same type as the source's id, primary key), ``output``
  (JSON; JSONB on PostgreSQL), ``model_uuid``, ``model_version``, ``computed_at``.

Triggers: SQLite and MariaDB/MySQL ``AFTER INSERT/UPDATE/DELETE`` triggers; PostgreSQL a
PL/pgSQL trigger function that also sends ``NOTIFY superlite_listeners`` so a waiting
``superlite listen`` wakes at once. An update is queued only when the key or the id changed
(any update when the listener has a ``where`` filter), so downstream listeners are not woken
by writes that change nothing they read.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from superlite.components.reference import Resolved
from superlite.errors import ConfigurationError, NotFoundError
from superlite.listeners.component import OUTPUTS_PREFIX, Listener
from superlite.listeners.source import Batch, Change, Lag, ListenerSource, ListenerState, SourceId, decode_output
from superlite.stores.sql.engine import retrying, writer
from superlite.stores.sql.notify import Notifications

#: The channel PostgreSQL triggers notify.
CHANNEL = "superlite_listeners"

#: How many ids go into one ``IN (...)`` list.
IN_LIMIT = 500

_META = sa.MetaData()

#: Unix times in seconds need double precision: MySQL's FLOAT (single) is off by up to a minute.
_EPOCH = sa.Double()

queue = sa.Table(
    "_superlite_listener_queue",
    _META,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("listener", sa.String(64), nullable=False),
    sa.Column("source_id", sa.String(255), nullable=False),
    sa.Column("queued_at", _EPOCH, nullable=False),
    sa.Index("ix_superlite_listener_queue", "listener", "seq"),
)

state = sa.Table(
    "_superlite_listener_state",
    _META,
    sa.Column("listener", sa.String(64), primary_key=True),
    sa.Column("signature", sa.String(64), nullable=False),
    sa.Column("model_uuid", sa.String(64)),
    sa.Column("model_version", sa.Integer),
    sa.Column("cursor", sa.JSON),
    sa.Column("backfill_done", sa.Boolean, nullable=False, default=False),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", _EPOCH),
    sa.Column("processed", sa.BigInteger, nullable=False, default=0),
    sa.Column("rate", sa.Float),
)

errors = sa.Table(
    "_superlite_listener_errors",
    _META,
    sa.Column("listener", sa.String(64), primary_key=True),
    sa.Column("source_id", sa.String(255), primary_key=True),
    sa.Column("model_uuid", sa.String(64), nullable=False),
    sa.Column("model_version", sa.Integer),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("failed_at", _EPOCH, nullable=False),
)

_OUTPUT_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

_NOW = {
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
    "postgresql": "extract(epoch from clock_timestamp())",
    "mysql": "UNIX_TIMESTAMP(NOW(6))",
}


def _widen_epoch_columns(connection: Connection) -> None:
    """On MySQL/MariaDB, turn time columns an earlier release created as single-precision FLOAT into DOUBLE."""
    if connection.dialect.name != "mysql":
        return
    inspector = sa.inspect(connection)
    for table in (queue, state, errors):
        for column in inspector.get_columns(table.name):
            if column["name"] in table.c and isinstance(table.c[column["name"]].type, sa.Double):
                if not isinstance(column["type"], sa.Double) and isinstance(column["type"], sa.Float):
                    null = "NULL" if table.c[column["name"]].nullable else "NOT NULL"
                    connection.exec_driver_sql(f"ALTER TABLE {table.name} MODIFY {column['name']} DOUBLE {null}")


def _upsert(connection: Connection, table: sa.Table, keys: Sequence[str], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = connection.dialect.name
    columns = [c.name for c in table.columns if c.name not in keys]
    if dialect == "mysql":
        statement = mysql.insert(table)
        statement = statement.on_duplicate_key_update({c: statement.inserted[c] for c in columns})
    else:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(table)
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_={c: statement.excluded[c] for c in columns})
    connection.execute(statement, rows)


def _chunks(items: Sequence[Any], size: int = IN_LIMIT) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SQLListenerSource(ListenerSource):
    """A listener on a table of the Datalayer's SQL database (see the module docstring)."""

    def __init__(self, engine: Engine, listener: Listener) -> None:
        self.engine = engine
        self.writer = writer(engine)
        self.listener = listener
        self.name = listener.identifier
        self.dialect = engine.dialect.name
        if self.dialect not in _NOW:
            raise ConfigurationError(f"listeners do not support the {self.dialect} dialect; use SQLite, PostgreSQL or MySQL/MariaDB")
        if listener.watermark:
            raise ConfigurationError(
                f"listener {self.name!r}: watermark= is for MongoDB servers without change streams; SQL tables are "
                f"followed by triggers, so leave it out"
            )
        self.quote = engine.dialect.identifier_preparer.quote
        try:
            self.source = sa.Table(listener.table, sa.MetaData(), autoload_with=engine)
        except sa.exc.NoSuchTableError:
            raise NotFoundError(f"listener {self.name!r}: no table {listener.table!r} in the database") from None
        self.id_column = self._id_column()
        if listener.key not in self.source.c:
            raise ConfigurationError(f"listener {self.name!r}: table {listener.table!r} has no column {listener.key!r}")
        self.key_column = self.source.c[listener.key]
        self.id_type: type = self._python_type(self.id_column)
        self.outputs_table = self._outputs_table()
        self.chained = listener.table.startswith(OUTPUTS_PREFIX)
        # A chained listener's key is another listener's JSON output, reflected as text on MariaDB.
        self._json_text = self.chained and not isinstance(self.key_column.type, sa.JSON)
        self._notifications = Notifications(self.engine, CHANNEL)
        self._has_errors = True  # until state() has looked
        self._tag = "_superlite_" + hashlib.sha256(self.name.encode()).hexdigest()[:12]

    def _id_column(self) -> sa.Column[Any]:
        if self.listener.id_column is not None:
            if self.listener.id_column not in self.source.c:
                raise ConfigurationError(f"listener {self.name!r}: table {self.listener.table!r} has no column {self.listener.id_column!r}")
            return self.source.c[self.listener.id_column]
        primary = list(self.source.primary_key.columns)
        if len(primary) != 1:
            raise ConfigurationError(
                f"listener {self.name!r}: table {self.listener.table!r} has {len(primary)} primary key columns; "
                f"name the row id with id_column="
            )
        return primary[0]

    @staticmethod
    def _python_type(column: sa.Column[Any]) -> type:
        try:
            return int if issubclass(column.type.python_type, int) else str
        except NotImplementedError:
            return str

    def _outputs_table(self) -> sa.Table:
        id_type = self.id_column.type
        if self.id_type is str and not getattr(id_type, "length", None):
            id_type = sa.String(255)
        return sa.Table(
            self.listener.outputs_table,
            sa.MetaData(),
            sa.Column("source_id", id_type, primary_key=True, autoincrement=False),
            sa.Column("output", _OUTPUT_TYPE),
            sa.Column("model_uuid", sa.String(64), nullable=False),
            sa.Column("model_version", sa.Integer),
            sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        )

    # -- installing ----------------------------------------------------------------------------

    def install(self, signature: str) -> bool:
        """Create the tables and (re)create this listener's triggers; True when ``signature`` changed."""
        def tables() -> None:  # a write transaction: on SQLite it waits for the write lock up front
            with self.writer.begin() as connection:
                _META.create_all(connection, checkfirst=True)
                self.outputs_table.create(connection, checkfirst=True)
                _widen_epoch_columns(connection)

        retrying(tables)

        def transaction() -> bool:
            with self.writer.begin() as connection:
                old = connection.scalar(sa.select(state.c.signature).where(state.c.listener == self.name))
                self._drop_triggers(connection)
                for statement in self._trigger_statements():
                    connection.exec_driver_sql(statement)
                if old is None:
                    connection.execute(state.insert().values(listener=self.name, signature=signature, backfill_done=False, processed=0))
                    return True
                if old != signature:
                    connection.execute(self.outputs_table.delete())
                    connection.execute(errors.delete().where(errors.c.listener == self.name))
                    connection.execute(
                        state.update()
                        .where(state.c.listener == self.name)
                        .values(signature=signature, cursor=None, backfill_done=False, model_uuid=None, model_version=None)
                    )
                    return True
                return False

        return retrying(transaction)

    def uninstall(self, keep_outputs: bool) -> None:
        """Drop the triggers, this listener's queue, state and errors, and its outputs unless kept."""

        def transaction() -> None:
            with self.writer.begin() as connection:
                self._drop_triggers(connection)
                for table in (queue, state, errors):
                    connection.execute(table.delete().where(table.c.listener == self.name))

        retrying(transaction)
        if not keep_outputs:

            def drop() -> None:
                with self.writer.begin() as connection:
                    self.outputs_table.drop(connection, checkfirst=True)

            retrying(drop)

    def _row(self, prefix: str, column: sa.Column[Any]) -> str:
        return f"{prefix}.{self.quote(column.name)}"

    def _enqueue(self, row: str, when: str | None = None) -> str:
        cast = {"postgresql": "TEXT", "mysql": "CHAR"}.get(self.dialect)
        value = f"CAST({row} AS {cast})" if cast else row
        insert = f"INSERT INTO {queue.name} (listener, source_id, queued_at) "
        if when is not None:  # SQLite: a trigger body has no IF, but INSERT ... SELECT ... WHERE
            return f"{insert}SELECT '{self.name}', {value}, {_NOW[self.dialect]} WHERE {when}"
        return f"{insert}VALUES ('{self.name}', {value}, {_NOW[self.dialect]})"

    def _changed(self, distinct: str) -> str:
        """The SQL condition under which an update is queued (``distinct``: a None-safe inequality)."""
        if self.listener.where:
            return "1 = 1"  # the update may move the row into or out of the filter
        columns = [self.key_column, self.id_column]
        return " OR ".join(distinct.format(old=self._row("OLD", c), new=self._row("NEW", c)) for c in columns)

    def _trigger_statements(self) -> list[str]:
        table = self.quote(self.source.name)
        new_id, old_id = self._row("NEW", self.id_column), self._row("OLD", self.id_column)
        tag = self._tag
        if self.dialect == "sqlite":
            changed = self._changed("{old} IS NOT {new}")
            return [
                f"CREATE TRIGGER IF NOT EXISTS {tag}_i AFTER INSERT ON {table} BEGIN {self._enqueue(new_id)}; END",
                f"CREATE TRIGGER IF NOT EXISTS {tag}_u AFTER UPDATE ON {table} WHEN {changed} BEGIN "
                f"{self._enqueue(new_id)}; {self._enqueue(old_id, f'{old_id} IS NOT {new_id}')}; END",
                f"CREATE TRIGGER IF NOT EXISTS {tag}_d AFTER DELETE ON {table} BEGIN {self._enqueue(old_id)}; END",
            ]
        if self.dialect == "mysql":
            changed = self._changed("NOT ({old} <=> {new})")
            return [
                f"CREATE TRIGGER {tag}_i AFTER INSERT ON {table} FOR EACH ROW {self._enqueue(new_id)}",
                f"CREATE TRIGGER {tag}_u AFTER UPDATE ON {table} FOR EACH ROW BEGIN IF {changed} THEN "
                f"{self._enqueue(new_id)}; IF NOT ({old_id} <=> {new_id}) THEN {self._enqueue(old_id)}; END IF; END IF; END",
                f"CREATE TRIGGER {tag}_d AFTER DELETE ON {table} FOR EACH ROW {self._enqueue(old_id)}",
            ]
        changed = self._changed("{old} IS DISTINCT FROM {new}")
        return [
            f"CREATE FUNCTION {tag}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP <> 'DELETE' THEN {self._enqueue(new_id)}; END IF; "
            f"IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND {old_id} IS DISTINCT FROM {new_id}) THEN {self._enqueue(old_id)}; END IF; "
            f"PERFORM pg_notify('{CHANNEL}', '{self.name}'); RETURN NULL; END $$",
            f"CREATE TRIGGER {tag}_id AFTER INSERT OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {tag}()",
            f"CREATE TRIGGER {tag}_u AFTER UPDATE ON {table} FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {tag}()",
        ]

    def _drop_triggers(self, connection: Connection) -> None:
        if self.dialect == "postgresql":  # the function's triggers go with it
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {self._tag}() CASCADE")
            return
        for suffix in ("i", "u", "d"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {self._tag}_{suffix}")

    # -- reading -------------------------------------------------------------------------------

    def state(self) -> ListenerState:
        """The listener's row in the state table."""
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(state).where(state.c.listener == self.name)).one_or_none()
            self._has_errors = connection.scalar(sa.select(errors.c.source_id).where(errors.c.listener == self.name).limit(1)) is not None
        if row is None:
            raise NotFoundError(f"listener {self.name!r} is not installed in this database")
        return ListenerState(row.model_uuid, row.model_version, row.cursor, bool(row.backfill_done), row.processed or 0, row.rate)

    def scan(self, cursor: Any, limit: int, last: Any = None) -> list[tuple[SourceId, Any, str | None]]:
        """Rows after ``cursor`` (up to ``last``) by id, with the model uuid of their current output."""
        out = self.outputs_table
        query = self._page(
            sa.select(self.id_column, self.key_column, out.c.model_uuid).select_from(
                self.source.outerjoin(out, out.c.source_id == self.id_column)
            ),
            cursor, limit, last,
        )
        with self.engine.connect() as connection:
            rows: list[Any] = list(connection.execute(query).all())
        return [(i, self._value(value), made_by) for i, value, made_by in rows] if self.chained else rows

    def ranges(self, cursor: Any, size: int, count: int) -> list[tuple[SourceId, int]]:
        """One query per range, counted in the database: no id of the range reaches Python."""
        found: list[tuple[SourceId, int]] = []
        with self.engine.connect() as connection:
            while len(found) < count:
                page = self._page(sa.select(self.id_column.label("i")), cursor, size, None).subquery()
                last, rows = connection.execute(sa.select(sa.func.max(page.c.i), sa.func.count())).one()
                if not rows:
                    break
                found.append((last, rows))
                cursor = last
        return found

    def _page(self, query: sa.Select[Any], cursor: Any, limit: int, last: Any) -> sa.Select[Any]:
        query = query.order_by(self.id_column).limit(limit)
        if cursor is not None:
            query = query.where(self.id_column > cursor)
        if last is not None:
            query = query.where(self.id_column <= last)
        return self._filtered(query)

    def _filtered(self, query: sa.Select[Any]) -> sa.Select[Any]:
        return query.where(sa.text(f"({self.listener.where})")) if self.listener.where else query

    def _value(self, value: Any) -> Any:
        if self._json_text and isinstance(value, str):
            value = json.loads(value)
        return decode_output(value) if self.chained else value

    def changes(self, limit: int) -> list[Change]:
        """The oldest queued changes of this listener."""
        query = (
            sa.select(queue.c.seq, queue.c.source_id)
            .where(queue.c.listener == self.name)
            .order_by(queue.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [Change(seq, self.id_type(source_id)) for seq, source_id in connection.execute(query)]

    def read(self, ids: Sequence[SourceId]) -> dict[SourceId, Any]:
        """Current key values of the rows among ``ids`` that exist and pass ``where``."""
        found: dict[SourceId, Any] = {}
        with self.engine.connect() as connection:
            for chunk in _chunks(list(ids)):
                query = self._filtered(sa.select(self.id_column, self.key_column).where(self.id_column.in_(chunk)))
                found.update((row[0], self._value(row[1])) for row in connection.execute(query))
        return found

    # -- writing -------------------------------------------------------------------------------

    def restart_backfill(self, model: Resolved) -> None:
        """Make ``model`` current and restart the back-fill from the first row."""

        def transaction() -> None:
            with self.writer.begin() as connection:
                connection.execute(
                    state.update()
                    .where(state.c.listener == self.name)
                    .values(model_uuid=model.uuid, model_version=model.version, cursor=None, backfill_done=False)
                )

        retrying(transaction)

    def _output_upsert(self) -> str:
        """The outputs upsert as driver SQL: per-row parameter processing would cost more than the model.

        PostgreSQL takes the whole batch in one statement, its ids and outputs as two arrays
        (``unnest``): psycopg's ``executemany`` sends one statement per row, five times slower.
        Elsewhere one row per ``executemany`` entry (PyMySQL folds them into one multi-row INSERT).
        """
        columns = ("source_id", "output", "model_uuid", "model_version", "computed_at")
        names = ", ".join(self.quote(c) for c in columns)
        table = self.quote(self.outputs_table.name)
        if self.dialect == "mysql":
            update = ", ".join(f"{self.quote(c)} = VALUES({self.quote(c)})" for c in columns[1:])
            return f"INSERT INTO {table} ({names}) VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE {update}"
        update = ", ".join(f"{self.quote(c)} = excluded.{self.quote(c)}" for c in columns[1:])
        conflict = f"ON CONFLICT ({self.quote('source_id')}) DO UPDATE SET {update}"
        if self.dialect == "sqlite":
            return f"INSERT INTO {table} ({names}) VALUES (?, ?, ?, ?, ?) {conflict}"
        id_type = self.outputs_table.c.source_id.type.compile(dialect=self.engine.dialect)
        return (
            f"INSERT INTO {table} ({names}) SELECT u.s, u.o::jsonb, %s, %s, %s "
            f"FROM unnest(%s::{id_type}[], %s::text[]) AS u(s, o) {conflict}"
        )

    def _write_outputs(self, connection: Connection, statement: str, model: Resolved, now: Any, outputs: list[tuple[SourceId, str]]) -> None:
        if self.dialect == "postgresql":
            ids, texts = [i for i, _ in outputs], [text for _, text in outputs]
            connection.exec_driver_sql(statement, (model.uuid, model.version, now, ids, texts))
            return
        connection.exec_driver_sql(statement, [(i, text, model.uuid, model.version, now) for i, text in outputs])

    def _timestamp(self) -> Any:
        now = datetime.now(timezone.utc)
        if self.dialect == "postgresql":
            return now
        now = now.replace(tzinfo=None)  # stored as UTC, as SQLAlchemy stores DateTime on these backends
        return now.strftime("%Y-%m-%d %H:%M:%S.%f") if self.dialect == "sqlite" else now

    def commit(self, model: Resolved, batch: Batch) -> None:
        """Upsert outputs, record errors, delete outputs of gone rows, drop done changes, advance."""
        now = self._timestamp()
        failed_at = time.time()
        upsert = self._output_upsert()
        failures = [
            {"listener": self.name, "source_id": str(i), "model_uuid": model.uuid, "model_version": model.version,
             "error": message, "failed_at": failed_at}
            for i, message in batch.errors
        ]
        cleared = [str(i) for i, _ in batch.outputs] + [str(i) for i in batch.deleted]
        values: dict[str, Any] = {"processed": state.c.processed + batch.count}
        if batch.rate is not None:
            values["rate"] = batch.rate
        if batch.cursor is not None:
            values["cursor"] = batch.cursor

        def transaction() -> None:
            with self.writer.begin() as connection:
                if batch.outputs:
                    self._write_outputs(connection, upsert, model, now, batch.outputs)
                for chunk in _chunks(batch.deleted):
                    connection.execute(self.outputs_table.delete().where(self.outputs_table.c.source_id.in_(chunk)))
                for chunk in _chunks(cleared if self._has_errors else []):
                    connection.execute(errors.delete().where(errors.c.listener == self.name, errors.c.source_id.in_(chunk)))
                _upsert(connection, errors, ["listener", "source_id"], failures)
                for chunk in _chunks(batch.done):
                    connection.execute(queue.delete().where(queue.c.seq.in_(chunk)))
                connection.execute(state.update().where(state.c.listener == self.name).values(**values))

        retrying(transaction)
        self._has_errors = self._has_errors or bool(failures)

    def finish_backfill(self) -> None:
        """Mark the back-fill complete."""

        def transaction() -> None:
            with self.writer.begin() as connection:
                connection.execute(state.update().where(state.c.listener == self.name).values(backfill_done=True))

        retrying(transaction)

    def acquire(self, owner: str, seconds: float) -> bool:
        """One conditional UPDATE: atomic on every backend."""
        now = time.time()

        def transaction() -> bool:
            with self.writer.begin() as connection:
                result = connection.execute(
                    state.update()
                    .where(
                        state.c.listener == self.name,
                        sa.or_(state.c.lease_owner.is_(None), state.c.lease_owner == owner, state.c.lease_until < now),
                    )
                    .values(lease_owner=owner, lease_until=now + seconds)
                )
                return result.rowcount == 1

        return retrying(transaction)

    def release(self, owner: str) -> None:
        """Clear the lease if ``owner`` holds it."""

        def transaction() -> None:
            with self.writer.begin() as connection:
                connection.execute(
                    state.update()
                    .where(state.c.listener == self.name, state.c.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None)
                )

        retrying(transaction)

    # -- reporting -----------------------------------------------------------------------------

    def outputs(self) -> dict[SourceId, Any]:
        """``{source_id: output}`` for every stored output."""
        out = self.outputs_table
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(out.c.source_id, out.c.output))
            return {source_id: decode_output(output) for source_id, output in rows}

    def errors(self) -> dict[SourceId, str]:
        """``{source_id: error}`` for rows that failed."""
        query = sa.select(errors.c.source_id, errors.c.error).where(errors.c.listener == self.name)
        with self.engine.connect() as connection:
            return {self.id_type(source_id): message for source_id, message in connection.execute(query)}

    def lag(self) -> Lag:
        """Queued changes, their oldest age, rows the back-fill has yet to pass, and errors."""
        current = self.state()
        with self.engine.connect() as connection:
            pending, oldest = connection.execute(
                sa.select(sa.func.count(), sa.func.min(queue.c.queued_at)).where(queue.c.listener == self.name)
            ).one()
            remaining = 0
            if not current.backfill_done:
                query = self._filtered(sa.select(sa.func.count()).select_from(self.source))
                if current.cursor is not None:
                    query = query.where(self.id_column > current.cursor)
                remaining = connection.scalar(query) or 0
            failed = connection.scalar(sa.select(sa.func.count()).where(errors.c.listener == self.name)) or 0
        age = None if oldest is None else max(0.0, time.time() - float(oldest))
        return Lag(pending, age, remaining, failed)

    def wait(self, seconds: float) -> None:
        """PostgreSQL: wait for a trigger's NOTIFY (or ``seconds``); elsewhere sleep."""
        self._notifications.wait(seconds)

    def close(self) -> None:
        """Close the PostgreSQL LISTEN connection, if one was opened."""
        self._notifications.close()
