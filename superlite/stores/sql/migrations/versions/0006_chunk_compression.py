"""PostgreSQL: artifact chunks compressed with LZ4 where the server has it.

Until now the chunk column was ``STORAGE EXTERNAL`` (out of line, never compressed), because
dense weights do not compress. But sparse and pruned weights, embeddings padded with zeros and
quantized tensors do, and a PostgreSQL write is bound by its WAL: fewer bytes stored is a
faster write. LZ4 gives up quickly on bytes that do not shrink (PostgreSQL then stores them
as they are), so dense weights lose nothing; pglz, the default method, is not used because it
compresses sparse data at about 35 MB/s. Measured on the benchmark machine (binary ``COPY`` of
100 MB in 8 MB rows): random float32 at 137-172 MB/s either way; float32 with 90% zeros at
86-151 MB/s uncompressed, 247-281 MB/s with LZ4, stored in 20 MB instead of 109 MB.

Only rows written from now on are compressed; existing ones stay as they are. The column is
left alone on PostgreSQL before 14 and on servers built without LZ4. PostgreSQL decompresses
on read, so older releases read both kinds of rows: ``schema_version`` stays 4.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: True when the server can compress a column with LZ4 (PostgreSQL 14+, built ``--with-lz4``).
_HAS_LZ4 = "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"


def upgrade() -> None:
    """On PostgreSQL with LZ4: compress the chunk column (inline storage allowed, moved out of line when large)."""
    if op.get_context().dialect.name != "postgresql" or not op.get_bind().exec_driver_sql(_HAS_LZ4).scalar():
        return
    op.execute(
        "ALTER TABLE superlite_artifact_chunks "
        "ALTER COLUMN data SET STORAGE EXTENDED, ALTER COLUMN data SET COMPRESSION lz4"
    )
