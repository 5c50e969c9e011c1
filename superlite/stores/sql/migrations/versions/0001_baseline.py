"""Baseline: the tables superlite wrote before it used Alembic (schema version 1).

Frozen: it spells out every column instead of importing :mod:`superlite.stores.sql.schema`,
which describes the newest schema. A database created by a release before Alembic is exactly
this revision and is stamped ``0001`` when first opened.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _name(length: int = 255) -> sa.types.TypeEngine[str]:
    variant = mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin")
    return sa.String(length).with_variant(variant, "mysql", "mariadb")


def _timestamp() -> sa.types.TypeEngine[object]:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Create the component, artifact and meta tables, and record schema version 1."""
    meta = op.create_table(
        "superlite_meta",
        sa.Column("key", _name(64), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
    )
    op.create_table(
        "superlite_components",
        sa.Column("uuid", _name(64), primary_key=True),
        sa.Column("type_id", _name(), nullable=False),
        sa.Column("identifier", _name(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("class_path", sa.Text, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("content_hash", _name(64), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.UniqueConstraint("type_id", "identifier", "version", name="uq_superlite_components_version"),
    )
    op.create_table(
        "superlite_component_artifacts",
        sa.Column("component_uuid", _name(64), sa.ForeignKey("superlite_components.uuid"), primary_key=True),
        sa.Column("name", _name(), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("sha256", _name(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("serializer", _name(), nullable=False),
    )
    op.create_index("ix_superlite_component_artifacts_sha256", "superlite_component_artifacts", ["sha256"])
    op.create_table(
        "superlite_dependencies",
        sa.Column("component_uuid", _name(64), sa.ForeignKey("superlite_components.uuid"), primary_key=True),
        sa.Column("depends_on", _name(64), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_superlite_dependencies_depends_on", "superlite_dependencies", ["depends_on"])
    op.create_table(
        "superlite_artifacts",
        sa.Column("sha256", _name(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
    )
    op.create_table(
        "superlite_artifact_chunks",
        sa.Column("sha256", _name(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), nullable=False),
    )
    if op.get_context().dialect.name == "postgresql":
        # Artifacts are mostly incompressible: store chunks out of line, uncompressed.
        op.execute("ALTER TABLE superlite_artifact_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])
