"""Artifacts kept in the database itself, as numbered chunk rows plus one row that marks them complete."""

from __future__ import annotations

import io
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from superlite.errors import IntegrityError, NotFoundError, StoreUnavailableError, SuperliteError
from superlite.stores.base import ArtifactStore
from superlite.stores.sql.chunks import (
    ChunkConflictError,
    ChunkIO,
    chunk_io_for,
    rechunk,
)
from superlite.stores.sql.engine import is_retryable, masked, reporting, retrying, writer
from superlite.stores.sql.schema import artifact_chunks, artifacts, utcnow


class SQLArtifactStore(ArtifactStore):
    """An :class:`~superlite.stores.base.ArtifactStore` in the ``superlite_artifact*`` tables.

    ``put`` and ``put_stream`` write the chunk rows under a fresh key and then the
    ``superlite_artifacts`` row that names them (digest, size, ``chunks_key``) in one
    transaction, so an artifact is either absent or complete, and a streamed put needs no
    spool: its digest is known only at the end. ``open`` streams the chunk rows in order, fetching
    as many at once as the database's :class:`~superlite.stores.sql.chunks.ChunkIO` says. The
    row's ``created_at`` is the time the artifact was last put or touched: :meth:`touch` renews
    it and :meth:`delete` with ``unused_since`` deletes the row only while it is older, in one
    statement, so the two cannot interleave.
    """

    def __init__(
        self, engine: Engine, chunk_io: ChunkIO | None = None, *, release: Callable[[], None] | None = None
    ) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self._io = chunk_io or chunk_io_for(engine)
        self._release = release or engine.dispose

    def put(self, sha256: str, chunks: Iterable[bytes], size: int) -> None:
        """Store ``chunks`` under ``sha256`` all-or-nothing; a no-op when it is stored already."""
        with reporting(self._engine):
            if self.touch(sha256):
                return
        self._store(chunks, lambda: sha256, size)

    def put_stream(self, chunks: Iterable[bytes], digest: Callable[[], str]) -> None:
        """Write the chunk rows as they come; name them ``digest()`` at the end (see :meth:`_store`)."""
        self._store(chunks, digest, None)

    def _store(self, chunks: Iterable[bytes], digest: Callable[[], str], size: int | None) -> None:
        """Write chunk rows under a fresh key, then the row that names them, in one transaction.

        The ``superlite_artifacts`` row (digest, size, ``chunks_key``) comes last, when
        ``digest()`` is known; if that digest is stored already, or the byte count is not
        ``size``, the transaction rolls back and the chunks written go with it.
        """
        key = f"upload:{uuid.uuid4().hex}"
        name = ""
        with reporting(self._engine):
            try:
                with self._writer.begin() as connection:
                    written = self._io.write(connection, key, rechunk(chunks, self._io.chunk_size(connection)))
                    name = digest()
                    if size is not None and written != size:
                        raise IntegrityError(
                            f"artifact {name}: expected {size} bytes but received {written}; nothing was stored"
                        )
                    if connection.scalar(sa.select(artifacts.c.size).where(artifacts.c.sha256 == name)) is not None:
                        raise _StoredAlready
                    connection.execute(
                        artifacts.insert().values(sha256=name, size=written, created_at=utcnow(), chunks_key=key)
                    )
            except _StoredAlready:
                self.touch(name)
            except (ChunkConflictError, sa.exc.IntegrityError) as exc:
                # A concurrent put of the same bytes committed first: that is success.
                if not (name and self.touch(name)):
                    raise SuperliteError(f"cannot store artifact {name}: {exc.__cause__ or exc}") from exc
            except sa.exc.DBAPIError as exc:
                if not (is_retryable(exc) and name and self.exists(name)):
                    raise

    def open(self, sha256: str) -> BinaryIO:
        """A buffered stream over the artifact, fetching ``read_ahead`` chunk rows at once (see :class:`ChunkReader`)."""
        with reporting(self._engine), self._engine.connect() as connection:
            row = connection.execute(
                sa.select(artifacts.c.size, artifacts.c.chunks_key).where(artifacts.c.sha256 == sha256)
            ).first()
        if row is None:
            raise NotFoundError(f"artifact {sha256} is not stored in {masked(self._engine.url)}")
        reader = ChunkReader(
            sha256, row.size, self._read_chunk, self.exists, key=row.chunks_key, read_ahead=self._io.read_ahead
        )
        return io.BufferedReader(reader)

    def _read_chunk(self, sha256: str, seq: int) -> bytes | None:
        # A read is idempotent: a connection lost during it (the server restarted, the backend
        # was terminated) is replaced once by a fresh one from the pool before giving up.
        try:
            with reporting(self._engine), self._engine.connect() as connection:
                return self._io.read(connection, sha256, seq)
        except StoreUnavailableError:
            with reporting(self._engine), self._engine.connect() as connection:
                return self._io.read(connection, sha256, seq)

    def exists(self, sha256: str) -> bool:
        """Whether ``sha256`` is stored (completely: partial writes are never visible)."""
        with reporting(self._engine), self._engine.connect() as connection:
            return connection.scalar(sa.select(artifacts.c.size).where(artifacts.c.sha256 == sha256)) is not None

    def touch(self, sha256: str) -> bool:
        """Set the artifact's last-use time to now; False when it is not stored."""

        def _touch() -> bool:
            with self._writer.begin() as connection:
                result = connection.execute(
                    artifacts.update().where(artifacts.c.sha256 == sha256).values(created_at=utcnow())
                )
                return bool(result.rowcount)

        with reporting(self._engine):
            return retrying(_touch)

    def delete(self, sha256: str, unused_since: datetime | None = None) -> bool:
        """Remove ``sha256`` and its chunks in one transaction (only if unused since ``unused_since``)."""

        def _delete() -> bool:
            with self._writer.begin() as connection:
                condition = artifacts.c.sha256 == sha256
                if unused_since is not None:
                    condition = condition & (artifacts.c.created_at < unused_since)
                key = connection.scalar(sa.select(artifacts.c.chunks_key).where(condition))
                deleted = bool(connection.execute(artifacts.delete().where(condition)).rowcount)
                if deleted or unused_since is None:
                    connection.execute(artifact_chunks.delete().where(artifact_chunks.c.sha256 == (key or sha256)))
                return deleted

        with reporting(self._engine):
            return retrying(_delete)

    def list(self) -> set[str]:
        """The SHA-256 of every complete artifact."""
        with reporting(self._engine), self._engine.connect() as connection:
            return set(connection.scalars(sa.select(artifacts.c.sha256)))

    def close(self) -> None:
        """Give up this store's use of the engine; the last store of a bundle to close disposes it."""
        self._release()


class _StoredAlready(Exception):
    """The digest of a streamed put is stored already: roll the new chunks back."""


class ChunkReader(io.RawIOBase):
    """A raw stream over the ``size`` bytes of artifact ``sha256``, stored as chunks 0, 1, … of ``key``.

    ``key`` is the artifact's ``chunks_key``, or its digest when that is None. ``fetch(key, seq)``
    returns the chunk, or None when it is missing: if ``exists(sha256)``
    says the artifact is gone, it was deleted while being read (:class:`~superlite.errors.NotFoundError`);
    if not, the stored bytes are fewer than its size (:class:`~superlite.errors.IntegrityError`).

    With ``read_ahead`` > 1, once the first chunk tells how many there are (all but the last
    have its length), up to ``read_ahead`` of the next ones are fetched at once in threads of
    the reader's own, which stop when it is closed.
    """

    def __init__(
        self,
        sha256: str,
        size: int,
        fetch: Callable[[str, int], bytes | None],
        exists: Callable[[str], bool],
        *,
        key: str | None = None,
        read_ahead: int = 1,
    ) -> None:
        super().__init__()
        self._exists = exists
        self._sha256 = sha256
        self._key = key or sha256
        self._size = size
        self._fetch = fetch
        self._read_ahead = read_ahead
        self._seq = 0
        self._position = 0
        self._chunk = memoryview(b"")
        self._offset = 0
        self._count: int | None = None
        self._ahead: deque[tuple[int, Future[bytes | None]]] = deque()
        self._threads: ThreadPoolExecutor | None = None

    def readable(self) -> bool:
        """Always true."""
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Copy the next bytes into ``buffer``, fetching the next chunk when this one is used up."""
        if self._offset >= len(self._chunk):
            if self._position >= self._size:
                return 0
            self._chunk = memoryview(self._next_chunk())
            self._offset = 0
        count = min(len(buffer), len(self._chunk) - self._offset)
        buffer[:count] = self._chunk[self._offset : self._offset + count]
        self._offset += count
        self._position += count
        return count

    def _next_chunk(self) -> bytes:
        chunk = self._take(self._seq)
        if not chunk and not self._exists(self._sha256):
            raise NotFoundError(
                f"artifact {self._sha256} was deleted while being read, after {self._position} of {self._size} bytes"
            )
        if not chunk:
            raise IntegrityError(
                f"artifact {self._sha256} is truncated: it should hold {self._size} bytes but chunk {self._seq} "
                f"is missing after {self._position}. It was not deserialized. Restore the artifact from a "
                f"backup, or re-apply the component."
            )
        if self._count is None:
            self._count = -(-self._size // len(chunk))
        self._seq += 1
        self._fetch_ahead()
        return chunk

    def _take(self, seq: int) -> bytes | None:
        """Chunk ``seq``: the one fetched ahead if it is next in line, else fetched now."""
        if self._ahead and self._ahead[0][0] == seq:
            return self._ahead.popleft()[1].result()
        return self._fetch(self._key, seq)

    def _fetch_ahead(self) -> None:
        """Keep up to ``read_ahead`` of the chunks after the current one on their way."""
        if self._read_ahead < 2 or self._count is None:
            return
        following = self._ahead[-1][0] + 1 if self._ahead else self._seq
        while len(self._ahead) < self._read_ahead and following < self._count:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self._read_ahead, thread_name_prefix="superlite-chunks")
            self._ahead.append((following, self._threads.submit(self._fetch, self._key, following)))
            following += 1

    def close(self) -> None:
        """Drop the current chunk, stop fetching ahead, and close."""
        self._chunk = memoryview(b"")
        self._ahead.clear()
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None
        super().close()
