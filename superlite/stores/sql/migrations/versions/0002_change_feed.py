"""Change feed: the outbox of apply/remove events and the counter that numbers them.

``superlite_change_counter`` holds one row; a writer locks it (``SELECT ... FOR UPDATE``) in the
transaction that makes the change, so ids are handed out, and become visible, in commit order.
``superlite_meta.schema_version`` becomes 2 so that releases before Alembic, which would write
records without events, refuse the database.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _name(length: int = 255) -> sa.types.TypeEngine[str]:
    variant = mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin")
    return sa.String(length).with_variant(variant, "mysql", "mariadb")


def upgrade() -> None:
    """Create the changes and counter tables, start the counter at 0, mark schema version 2."""
    op.create_table(
        "superlite_changes",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", _name(32), nullable=False),
        sa.Column("type_id", _name(), nullable=False),
        sa.Column("identifier", _name(), nullable=False),
        sa.Column("uuid", _name(64), nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb"), nullable=False),
    )
    counter = op.create_table(
        "superlite_change_counter",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(counter, [{"id": 1, "last_id": 0}])
    meta = sa.table("superlite_meta", sa.column("key", sa.String), sa.column("value", sa.String))
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="2"))
