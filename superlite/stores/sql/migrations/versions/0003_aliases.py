"""Aliases and hot swap: one row per alias and its history, worker status rows, pending moves.

``superlite_meta.schema_version`` becomes 3, so that releases without aliases refuse the database
instead of removing versions an alias still points at.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _name(length: int = 255) -> sa.types.TypeEngine[str]:
    variant = mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin")
    return sa.String(length).with_variant(variant, "mysql", "mariadb")


def _timestamp() -> sa.types.TypeEngine[object]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Create the alias, alias-history, worker and pending-move tables; mark schema version 3."""
    op.create_table(
        "superlite_aliases",
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
        sa.Column("updated_at", _timestamp(), nullable=False),
    )
    op.create_table(
        "superlite_alias_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("type_id", _name(), nullable=False),
        sa.Column("identifier", _name(), nullable=False),
        sa.Column("alias", _name(64), nullable=False),
        sa.Column("action", _name(32), nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("who", sa.Text, nullable=False),
        sa.Column("why", sa.Text, nullable=True),
        sa.Column("at", _timestamp(), nullable=False),
    )
    op.create_index("ix_superlite_alias_history_name", "superlite_alias_history", ["type_id", "identifier", "alias"])
    op.create_table(
        "superlite_workers",
        sa.Column("id", _name(), primary_key=True),
        sa.Column("host", _name(), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("queues", sa.JSON, nullable=False),
        sa.Column("follow", sa.JSON, nullable=False),
        sa.Column("policy", _name(64), nullable=False),
        sa.Column("loaded", sa.JSON, nullable=False),
        sa.Column("targets", sa.JSON, nullable=False),
        sa.Column("heartbeat_interval", sa.Float, nullable=False),
        sa.Column("started_at", _timestamp(), nullable=False),
        sa.Column("heartbeat_at", _timestamp(), nullable=False),
    )
    op.create_table(
        "superlite_alias_pending",
        sa.Column("id", _name(64), primary_key=True),
        sa.Column("type_id", _name(), nullable=False),
        sa.Column("identifier", _name(), nullable=False),
        sa.Column("alias", _name(64), nullable=False),
        sa.Column("uuids", sa.JSON, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("requested_at", _timestamp(), nullable=False),
        sa.Column("expires_at", _timestamp(), nullable=False),
    )
    meta = sa.table("superlite_meta", sa.column("key", sa.String), sa.column("value", sa.String))
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="3"))

