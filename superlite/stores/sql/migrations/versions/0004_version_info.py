"""Version metadata: ``superlite_components.info``, a JSON object outside the content hash.

It holds what describes a version without being part of it (``description``, ``tags``,
``metrics``, ``source``, ``signature``); tags can change after the version is stored. The column
is nullable and older releases neither read nor write it, so ``schema_version`` stays 3: an
older release keeps working on the database and stores versions without metadata.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable ``info`` column."""
    op.add_column("superlite_components", sa.Column("info", sa.JSON, nullable=True))
