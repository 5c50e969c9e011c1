"""BLAKE3 digests and streamed puts: wider digest columns, ``superlite_artifacts.chunks_key``.

New artifacts are addressed as ``blake3:<hex>`` (71 characters), so the digest columns grow from
64 to 80 characters. ``chunks_key`` says where an artifact's chunk rows are when they were written
under a provisional key before the digest was known (NULL: under the digest, as before).
``superlite_meta.schema_version`` becomes 4: older releases cannot read BLAKE3 digests, and refuse
the database instead of reporting every new artifact as corrupt.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _name(length: int) -> sa.types.TypeEngine[str]:
    variant = mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin")
    return sa.String(length).with_variant(variant, "mysql", "mariadb")


def upgrade() -> None:
    """Widen both digest columns, add ``chunks_key``, mark schema version 4."""
    with op.batch_alter_table("superlite_artifacts") as table:
        table.alter_column("sha256", type_=_name(80), existing_type=_name(64), existing_nullable=False)
        table.add_column(sa.Column("chunks_key", _name(64), nullable=True))
    with op.batch_alter_table("superlite_component_artifacts") as table:
        table.alter_column("sha256", type_=_name(80), existing_type=_name(64), existing_nullable=False)
    meta = sa.table("superlite_meta", sa.column("key", sa.String), sa.column("value", sa.String))
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="4"))
