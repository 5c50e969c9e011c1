"""The tables superlite keeps in a SQL database, as this release reads and writes them.

Every table name starts with ``superlite_`` so the tables can live beside an application's own.
The tables are created and changed only by the Alembic revisions in ``migrations/versions``
(see :mod:`superlite.stores.sql.migrate`); this module describes the newest schema, and a test
checks that the revisions build exactly it. ``superlite_meta`` keeps the pre-Alembic schema
version number, so that releases before Alembic refuse a database they would misread.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

# Identifiers are case- and accent-sensitive everywhere; MySQL's default collation is neither.
_NAME_LENGTH = 255
_BINARY_COLLATION = "utf8mb4_bin"
#: Room for an artifact digest: ``blake3:`` and 64 hex digits, or a bare SHA-256.
DIGEST_LENGTH = 80


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
    sa.Column("info", sa.JSON, nullable=True),
    sa.UniqueConstraint("type_id", "identifier", "version", name="uq_superlite_components_version"),
)

component_artifacts = sa.Table(
    "superlite_component_artifacts",
    metadata,
    sa.Column("component_uuid", _name(64), sa.ForeignKey(components.c.uuid), primary_key=True),
    sa.Column("name", _name(), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("sha256", _name(DIGEST_LENGTH), nullable=False, index=True),
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

# Hot swap: the status rows of serving workers and the alias moves waiting for them.

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

# An artifact's digest is in the column named ``sha256`` (the name of the only hash there was);
# ``chunks_key`` is where its chunks are when not under the digest itself: a streamed put writes
# them under a provisional key, before the digest is known.
artifacts = sa.Table(
    "superlite_artifacts",
    metadata,
    sa.Column("sha256", _name(DIGEST_LENGTH), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("chunks_key", _name(64), nullable=True),
)

artifact_chunks = sa.Table(
    "superlite_artifact_chunks",
    metadata,
    sa.Column("sha256", _name(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), nullable=False),
)

changes = sa.Table(
    "superlite_changes",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", _name(32), nullable=False),
    sa.Column("type_id", _name(), nullable=False),
    sa.Column("identifier", _name(), nullable=False),
    sa.Column("uuid", _name(64), nullable=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# One row (id 1): the last change id handed out. Writers lock it, so ids follow commit order.
change_counter = sa.Table(
    "superlite_change_counter",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_id", sa.BigInteger, nullable=False),
)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
