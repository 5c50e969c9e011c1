"""Writing and reading artifact chunk rows, the fastest correct way each database allows.

* Generic (SQLite and others): SQLAlchemy Core, one INSERT or SELECT per chunk.
* PostgreSQL: one ``COPY ... FROM STDIN (FORMAT BINARY)`` stream for all chunks of an artifact,
  and chunks read back through a binary-format cursor (SQLAlchemy's psycopg dialect reads
  ``bytea`` as hex text, at half the throughput). The column is compressed with LZ4 where the
  server has it (migration ``0006``: sparse weights shrink, dense ones pass as they are).
* MySQL/MariaDB: chunks sized to fit the server's ``max_allowed_packet`` (an escaped chunk can
  be twice its size on the wire).

``bench/artifacts.py`` measures all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from superlite.stores.base import CHUNK_SIZE
from superlite.stores.sql.schema import artifact_chunks

_COPY_IN = "COPY {table} (sha256, seq, data) FROM STDIN (FORMAT BINARY)"
_SELECT = "SELECT data FROM {table} WHERE sha256 = %s AND seq = %s"

# Room left in a MySQL packet for the statement around the chunk.
_PACKET_OVERHEAD = 64 * 1024
_MIN_CHUNK = 64 * 1024


class ChunkConflictError(Exception):
    """Another writer stored chunks of the same artifact first."""


def rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Regroup ``chunks`` (of any sizes) into pieces of exactly ``size`` bytes, the last shorter.

    A chunk of exactly ``size`` bytes passes as it is (a ``bytearray`` stays one: no copy).
    """
    buffer = bytearray()
    for chunk in chunks:
        if not buffer and len(chunk) == size:
            yield chunk
            continue
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


class ChunkIO:
    """Chunk rows through SQLAlchemy Core; works on every database."""

    #: How many chunk rows a reader fetches at once, each on its own pooled connection.
    read_ahead = 1

    def chunk_size(self, connection: Connection) -> int:
        """Bytes per chunk row written to this database."""
        return CHUNK_SIZE

    def write(self, connection: Connection, sha256: str, chunks: Iterable[bytes]) -> int:
        """Insert ``chunks`` as rows 0, 1, … of ``sha256`` in the open transaction; return the byte count.

        Raises :class:`ChunkConflictError` when a row of ``sha256`` exists already.
        """
        written = 0
        try:
            for seq, chunk in enumerate(chunks):
                connection.execute(artifact_chunks.insert().values(sha256=sha256, seq=seq, data=chunk))
                written += len(chunk)
        except sa.exc.IntegrityError as exc:
            raise ChunkConflictError(sha256) from exc
        return written

    def read(self, connection: Connection, sha256: str, seq: int) -> bytes | None:
        """Chunk ``seq`` of ``sha256``, or None when there is no such row."""
        query = sa.select(artifact_chunks.c.data).where(
            artifact_chunks.c.sha256 == sha256, artifact_chunks.c.seq == seq
        )
        data = connection.scalar(query)
        return bytes(data) if data is not None else None


class PostgresChunkIO(ChunkIO):
    """Binary COPY in, binary cursor out (psycopg 3), about twice the throughput of text transfer.

    Reads fetch two chunk rows at once: the server reassembles a large value on one core per
    connection, and that, not the network or the client, bounds a single reader.
    """

    read_ahead = 2

    def write(self, connection: Connection, sha256: str, chunks: Iterable[bytes]) -> int:
        """Stream every chunk through one binary COPY; see :meth:`ChunkIO.write`."""
        import psycopg

        written = 0
        with _invalidated_when_lost(connection), _psycopg(connection).cursor() as cursor:
            try:
                with cursor.copy(_COPY_IN.format(table=artifact_chunks.name)) as copy:
                    copy.set_types(["varchar", "int4", "bytea"])
                    for seq, chunk in enumerate(chunks):
                        copy.write_row((sha256, seq, chunk))
                        written += len(chunk)
            except psycopg.errors.UniqueViolation as exc:
                raise ChunkConflictError(sha256) from exc
        return written

    def read(self, connection: Connection, sha256: str, seq: int) -> bytes | None:
        """Fetch one chunk in binary format; see :meth:`ChunkIO.read`."""
        with _invalidated_when_lost(connection), _psycopg(connection).cursor(binary=True) as cursor:
            cursor.execute(_SELECT.format(table=artifact_chunks.name), (sha256, seq))
            row = cursor.fetchone()
        return bytes(row[0]) if row is not None else None


@contextmanager
def _invalidated_when_lost(connection: Connection) -> Iterator[None]:
    """Tell SQLAlchemy when the psycopg connection it lent us broke (server restart, ``pg_terminate_backend``).

    Errors raised by psycopg directly bypass SQLAlchemy, which would otherwise return the dead
    connection to its pool and log "Exception during reset" with a traceback when its rollback fails.
    """
    try:
        yield
    except Exception as exc:
        driver = connection.connection.driver_connection if not connection.invalidated else None
        if driver is not None and (driver.broken or driver.closed):
            connection.invalidate(exc)
        raise


def _psycopg(connection: Connection) -> Any:
    # The psycopg connection under SQLAlchemy's, in the same transaction.
    return connection.connection.driver_connection


class MySQLChunkIO(ChunkIO):
    """Chunks small enough for the server's ``max_allowed_packet``, whatever it is set to."""

    def __init__(self) -> None:
        self._size: int | None = None

    def write(self, connection: Connection, sha256: str, chunks: Iterable[bytes]) -> int:
        """As :meth:`ChunkIO.write`, each chunk as ``bytes`` (the only binary type PyMySQL escapes)."""
        return super().write(connection, sha256, (bytes(chunk) for chunk in chunks))

    def chunk_size(self, connection: Connection) -> int:
        """:data:`CHUNK_SIZE`, or less when an escaped chunk would not fit in one packet."""
        if self._size is None:
            packet = int(connection.scalar(sa.text("SELECT @@max_allowed_packet")) or 0)
            fitting = (packet - _PACKET_OVERHEAD) // 2 // _MIN_CHUNK * _MIN_CHUNK
            self._size = max(_MIN_CHUNK, min(CHUNK_SIZE, fitting))
        return self._size


def chunk_io_for(engine: Engine) -> ChunkIO:
    """The chunk reader/writer suited to ``engine``'s database."""
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return PostgresChunkIO()
    if engine.dialect.name in ("mysql", "mariadb"):
        return MySQLChunkIO()
    return ChunkIO()
