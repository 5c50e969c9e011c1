"""The tables superlite keeps in a SQL database, and creating them on first connect.

Every table name starts with ``superlite_`` so the tables can live beside an application's own.
``superlite_meta`` records the schema version; a database written by a newer superlite (a higher
version than :data:`~superlite.stores.base.SCHEMA_VERSION`) is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Dialect, Engine

from superlite.errors import SchemaVersionError
from superlite.stores.base import SCHEMA_VERSION
from superlite.stores.sql.engine import masked, writer

#: Key of the row in ``superlite_meta`` that holds the schema version.
VERSION_KEY = "schema_version"

# Identifiers are case- and accent-sensitive everywhere; MySQL's default collation is neither.
_NAME_LENGTH = 255
_BINARY_COLLATION = "utf8mb4_bin"
_PG_SCHEMA_LOCK = 0x5375706572  # an arbitrary advisory-lock key: "Super"
_MYSQL_SCHEMA_LOCK = "superlite_schema."  # + the database name: GET_LOCK is server-wide


def _name(length: int = _NAME_LENGTH) -> sa.types.TypeEngine[str]:
    variant = mysql.VARCHAR(length, charset="utf8mb4", collation=_BINARY_COLLATION)
    return sa.String(length).with_variant(variant, "mysql", "mariadb")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored as naive UTC (with microseconds on MySQL) and read back as aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """Ask MySQL/MariaDB for microsecond precision; the default there is whole seconds."""
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to naive UTC (a naive value is taken to be UTC already)."""
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Mark the stored naive UTC value as UTC."""
        return value.replace(tzinfo=UTC) if value is not None else None


metadata = sa.MetaData()

meta = sa.Table(
    "superlite_meta",
    metadata,
    sa.Column("key", _name(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

components = sa.Table(
    "superlite_components",
    metadata,
    sa.Column("uuid", _name(64), primary_key=True),
    sa.Column("type_id", _name(), nullable=False),
    sa.Column("identifier", _name(), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("class_path", sa.Text, nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("content_hash", _name(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("type_id", "identifier", "version", name="uq_superlite_components_version"),
)

component_artifacts = sa.Table(
    "superlite_component_artifacts",
    metadata,
    sa.Column("component_uuid", _name(64), sa.ForeignKey(components.c.uuid), primary_key=True),
    sa.Column("name", _name(), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("sha256", _name(64), nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("serializer", _name(), nullable=False),
)

dependencies = sa.Table(
    "superlite_dependencies",
    metadata,
    sa.Column("component_uuid", _name(64), sa.ForeignKey(components.c.uuid), primary_key=True),
    sa.Column("depends_on", _name(64), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Index("ix_superlite_dependencies_depends_on", "depends_on"),
)

aliases = sa.Table(
    "superlite_aliases",
    metadata,
    sa.Column("type_id", _name(), primary_key=True),
    sa.Column("identifier", _name(), primary_key=True),
    sa.Column("alias", _name(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("uuid", _name(64), nullable=False),
    sa.Column("canary_version", sa.Integer, nullable=True),
    sa.Column("canary_uuid", _name(64), nullable=True),
    sa.Column("canary_percent", sa.Integer, nullable=False),
    sa.Column("previous_version", sa.Integer, nullable=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

alias_history = sa.Table(
    "superlite_alias_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("type_id", _name(), nullable=False),
    sa.Column("identifier", _name(), nullable=False),
    sa.Column("alias", _name(64), nullable=False),
    sa.Column("action", _name(32), nullable=False),
    sa.Column("before", sa.JSON, nullable=True),
    sa.Column("after", sa.JSON, nullable=True),
    sa.Column("who", sa.Text, nullable=False),
    sa.Column("why", sa.Text, nullable=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_superlite_alias_history_name", "type_id", "identifier", "alias"),
)

# -- hot swap: worker status and pending alias moves -------------------------------------------
# New tables only (no new column on an existing table), so ensure_schema adds them to an older
# database as it is.

workers = sa.Table(
    "superlite_workers",
    metadata,
    sa.Column("id", _name(), primary_key=True),
    sa.Column("host", _name(), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("queues", sa.JSON, nullable=False),
    sa.Column("follow", sa.JSON, nullable=False),
    sa.Column("policy", _name(64), nullable=False),
    sa.Column("loaded", sa.JSON, nullable=False),
    sa.Column("targets", sa.JSON, nullable=False),
    sa.Column("heartbeat_interval", sa.Float, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
)

alias_pending = sa.Table(
    "superlite_alias_pending",
    metadata,
    sa.Column("id", _name(64), primary_key=True),
    sa.Column("type_id", _name(), nullable=False),
    sa.Column("identifier", _name(), nullable=False),
    sa.Column("alias", _name(64), nullable=False),
    sa.Column("uuids", sa.JSON, nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

# -- end of hot swap tables --------------------------------------------------------------------

artifacts = sa.Table(
    "superlite_artifacts",
    metadata,
    sa.Column("sha256", _name(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

artifact_chunks = sa.Table(
    "superlite_artifact_chunks",
    metadata,
    sa.Column("sha256", _name(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), nullable=False),
)

# Artifacts are mostly incompressible (weights, pickles): skip PostgreSQL's attempt to compress
# each value and store it out of line as it is.
sa.event.listen(
    artifact_chunks,
    "after_create",
    sa.DDL("ALTER TABLE %(fullname)s ALTER COLUMN data SET STORAGE EXTERNAL").execute_if(dialect="postgresql"),
)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def ensure_schema(engine: Engine) -> None:
    """Create missing tables and record the schema version; refuse a newer schema.

    Safe when several processes open a new database at once: the creation runs under a
    database-wide lock (an advisory lock, ``GET_LOCK`` or SQLite's write lock).
    """
    with engine.connect() as connection:
        if _recorded_version(connection) == SCHEMA_VERSION:
            return
    with writer(engine).connect() as connection:
        with _schema_lock(connection):
            _check_version(connection, engine)
            metadata.create_all(connection)
            if _recorded_version(connection) is None:
                connection.execute(meta.insert().values(key=VERSION_KEY, value=str(SCHEMA_VERSION)))
            connection.commit()


def _recorded_version(connection: Connection) -> int | None:
    if not sa.inspect(connection).has_table(meta.name):
        return None
    value = connection.scalar(sa.select(meta.c.value).where(meta.c.key == VERSION_KEY))
    return int(value) if value is not None else None


def _check_version(connection: Connection, engine: Engine) -> None:
    version = _recorded_version(connection)
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the database {masked(engine.url)} holds superlite schema version {version}, but this "
            f"release of superlite reads schema version {SCHEMA_VERSION} at most. It was written "
            f"by a newer superlite: upgrade superlite (pip install -U superlite) to open it."
        )


@contextmanager
def _schema_lock(connection: Connection) -> Iterator[None]:
    """Hold a database-wide lock for the block, so one process at a time creates the tables.

    On SQLite the connection (from :func:`writer`) began with ``BEGIN IMMEDIATE``, which is
    that lock already.
    """
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
    elif dialect in ("mysql", "mariadb"):
        connection.execute(sa.text("SELECT GET_LOCK(CONCAT(:name, DATABASE()), 60)"), {"name": _MYSQL_SCHEMA_LOCK})
    try:
        yield
    finally:
        if dialect in ("mysql", "mariadb"):
            connection.execute(sa.text("SELECT RELEASE_LOCK(CONCAT(:name, DATABASE()))"), {"name": _MYSQL_SCHEMA_LOCK})
