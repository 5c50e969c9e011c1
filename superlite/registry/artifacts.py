"""Artifact bytes on their way between a serializer and the artifact store, hashed and verified.

Writing: a field is serialized once, hashed (BLAKE3 by default) as the bytes pass, in chunks of
:data:`~superlite.stores.base.CHUNK_SIZE`. An artifact that fits in :data:`MEMORY_BYTES` is held
in memory until its digest is known, then uploaded unless the store has it already (re-applying
an unchanged model uploads nothing). A larger one streams: an uploader thread hands the chunks
to :meth:`~superlite.stores.base.ArtifactStore.put_stream` while the serializer is still
writing, so serializing, hashing and the database's writes overlap and the bytes are never
spooled to a temporary file.

Reading: the chunks are hashed as they arrive (a thread reads ahead) and deserialized only when
the digest matches (:class:`~superlite.errors.IntegrityError` otherwise), so a corrupt artifact
never reaches a deserializer. They are kept in memory, except for serializers that map files
(:attr:`~superlite.serialization.serializers.Serializer.maps_files`, torch's state_dict), which
get an unlinked temporary file.
"""

from __future__ import annotations

import bisect
import errno
import io
import queue
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from superlite.errors import NotFoundError, SerializationError, StorageFullError
from superlite.serialization.hashing import DEFAULT_ALGORITHM, ContentHasher, prefetch_chunks, split_digest, verify
from superlite.serialization.serializers import get_serializer
from superlite.stores.base import CHUNK_SIZE, ArtifactRef, ArtifactStore, ComponentRecord

#: Artifacts up to this size are held in memory while written and read; larger ones stream.
MEMORY_BYTES = 64 * 1024 * 1024

#: What an ``OSError`` says when a disk has no room: no space, or the user's quota used up.
_FULL = {errno.ENOSPC, errno.EDQUOT}


@contextmanager
def reporting_full_disk(where: str) -> Iterator[None]:
    """Raise a full disk met inside the block (``ENOSPC``, ``EDQUOT``) as :class:`StorageFullError`."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _FULL:
            raise
        raise StorageFullError(
            f"no space left on the disk that holds {where} ({exc.strerror}: {exc.filename or 'a temporary file'}); "
            f"nothing was half-stored. Free space there, then retry."
        ) from exc


class ArtifactPipeline:
    """Serializes, uploads, downloads and verifies artifacts for one artifact store."""

    def __init__(self, store: ArtifactStore, algorithm: str = DEFAULT_ALGORITHM) -> None:
        self.store = store
        self.algorithm = algorithm

    def write(self, name: str, serializer_name: str, obj: object) -> ArtifactRef:
        """Serialize ``obj`` with ``serializer_name`` into the store; return its reference."""
        writer = _ArtifactWriter(self.store, self.algorithm)
        with reporting_full_disk(f"the artifact store ({type(self.store).__name__})"):
            try:
                get_serializer(serializer_name).dump(obj, writer)  # type: ignore[arg-type]
                writer.finish()
            except BaseException:
                writer.abort()
                raise
        return ArtifactRef(name, writer.digest, writer.size, serializer_name)

    def renew(self, ref: ArtifactRef, obj: object) -> None:
        """Renew ``ref`` (:meth:`ArtifactStore.touch`), or store ``obj`` again if it was freed meanwhile."""
        if self.store.touch(ref.digest):
            return
        again = self.write(ref.name, ref.serializer, obj)
        if again.digest != ref.digest:
            raise SerializationError(
                f"artifact {ref.name!r} was freed while its record was written, and serializing it again gave other "
                f"bytes ({again.digest}, not {ref.digest}): its serializer {ref.serializer!r} is not deterministic. "
                f"Apply the component again."
            )

    def read(self, record: ComponentRecord, ref: ArtifactRef) -> object:
        """The object stored as ``ref`` of ``record``, after its digest is verified."""
        what = f"{ref.name!r} of {record.type_id} {record.identifier!r} version {record.version} ({ref.digest})"
        serializer = get_serializer(ref.serializer)
        try:
            source = self.store.open(ref.digest)
        except NotFoundError as exc:
            raise NotFoundError(f"artifact {what} is missing from the artifact store") from exc
        hasher = ContentHasher(split_digest(ref.digest)[0])
        with source, _scratch(serializer.maps_files) as scratch:
            for chunk in prefetch_chunks(source, CHUNK_SIZE):  # type: ignore[arg-type]
                hasher.update(chunk)
                scratch.write(chunk)
            verify(hasher, ref.digest, what)
            scratch.seek(0)
            return serializer.load(scratch)  # type: ignore[arg-type]


class _ArtifactWriter:
    """The file a serializer writes to: hashes, cuts the bytes into chunks and sends them on.

    Chunks are held until :data:`MEMORY_BYTES` is passed; from then on an :class:`_Upload`
    streams them to the store.
    """

    def __init__(self, store: ArtifactStore, algorithm: str) -> None:
        self._store = store
        self._hasher = ContentHasher(algorithm)
        self._chunk = bytearray()
        self._held: list[bytearray] = []
        self._upload: _Upload | None = None

    def write(self, data: bytes | memoryview) -> int:
        """Take ``data`` (a view is copied once, into the current chunk)."""
        view = memoryview(data).cast("B")
        written = view.nbytes
        while view.nbytes:
            room = CHUNK_SIZE - len(self._chunk)
            self._chunk += view[:room]
            view = view[room:]
            if len(self._chunk) == CHUNK_SIZE:
                self._send(self._chunk)
                self._chunk = bytearray()
        return written

    def flush(self) -> None:
        """Nothing to flush: chunks leave when full."""

    def _send(self, chunk: bytearray) -> None:
        self._hasher.update(chunk)
        if self._upload is not None:
            self._upload.send(chunk)
            return
        self._held.append(chunk)
        if self._hasher.size > MEMORY_BYTES:
            self._upload = _Upload(self._store)
            for held in self._held:
                self._upload.send(held)
            self._held = []

    def finish(self) -> None:
        """Send the last chunk and commit: by streaming, or by uploading what is held."""
        if self._chunk:
            self._send(self._chunk)
            self._chunk = bytearray()
        if self._upload is not None:
            self._upload.finish(self.digest)
        else:  # a put of bytes stored already only touches them
            self._store.put(self.digest, self._held, self.size)
        self._held = []

    def abort(self) -> None:
        """Drop everything: held chunks, and the upload under way (nothing becomes visible)."""
        self._held = []
        if self._upload is not None:
            self._upload.abort()

    @property
    def size(self) -> int:
        """Bytes hashed so far."""
        return self._hasher.size

    @property
    def digest(self) -> str:
        """The digest of the bytes hashed so far."""
        return self._hasher.digest


_END, _ABORT = object(), object()


class _Aborted(Exception):
    """The writer gave up; the store rolls the upload back."""


class _Upload:
    """One :meth:`ArtifactStore.put_stream` running on its own thread, fed through a short queue.

    The store's writes (which release the GIL) overlap the serializing and hashing that go on
    in the caller's thread; the queue bounds the memory in flight to two chunks. A store error
    is raised in the caller at its next :meth:`send` or at :meth:`finish`.
    """

    def __init__(self, store: ArtifactStore) -> None:
        self._store = store
        self._queue: queue.Queue[object] = queue.Queue(maxsize=2)
        self._digest = ""
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="superlite-upload", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._store.put_stream(self._chunks(), lambda: self._digest)
        except _Aborted:
            pass
        except BaseException as exc:  # raised again in the caller's thread
            self._error = exc

    def _chunks(self) -> Iterator[bytearray]:
        while (item := self._queue.get()) is not _END:
            if item is _ABORT:
                raise _Aborted
            yield item  # type: ignore[misc]

    def send(self, item: object) -> None:
        """Queue ``item`` for the store; raise the store's error if the upload failed."""
        while True:
            if not self._thread.is_alive():
                self._raise_error()
                raise SerializationError("the artifact upload stopped before the artifact was complete")
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def finish(self, digest: str) -> None:
        """Name the bytes ``digest`` and wait for the store to commit them."""
        self._digest = digest
        self.send(_END)
        self._thread.join()
        self._raise_error()

    def abort(self) -> None:
        """Roll the upload back and wait for its thread."""
        try:
            self.send(_ABORT)
        except BaseException:  # the upload failed already: nothing left to roll back
            pass
        self._thread.join()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


def _scratch(maps_files: bool) -> IO[bytes]:
    """Where a verified artifact waits for its deserializer.

    In memory (as the chunks themselves, never joined), except for a serializer that maps files:
    an unlinked temporary file, which no other path leads to, so its bytes cannot change after
    verification (mapping it beats copying the tensors out of memory at any size).
    """
    if maps_files:
        return tempfile.TemporaryFile()
    return _ChunksFile()  # type: ignore[return-value]


class _ChunksFile(io.BufferedIOBase):
    """A seekable file over chunks appended with :meth:`write`, which keeps them as they are.

    Reading copies each byte once (a read of exactly one whole chunk copies nothing), where a
    ``BytesIO`` would copy the chunks in and every read out.
    """

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []
        self._starts: list[int] = []
        self._size = 0
        self._position = 0

    def readable(self) -> bool:
        """Always true."""
        return True

    def writable(self) -> bool:
        """Always true: chunks are appended."""
        return True

    def seekable(self) -> bool:
        """Always true."""
        return True

    def write(self, chunk: bytes) -> int:  # type: ignore[override]
        """Append ``chunk`` (kept, not copied)."""
        self._starts.append(self._size)
        self._chunks.append(chunk)
        self._size += len(chunk)
        return len(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the read position, as :meth:`io.IOBase.seek`."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        """The read position."""
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes from the read position (all the rest when ``size`` is negative)."""
        end = self._size if size is None or size < 0 else min(self._size, self._position + size)
        pieces = list(self._pieces(end))
        if len(pieces) == 1 and isinstance(pieces[0], bytes):
            return pieces[0]
        return b"".join(pieces)

    read1 = read

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Copy bytes from the read position straight into ``buffer`` (as unpickling large objects does)."""
        target = memoryview(buffer).cast("B")
        copied = 0
        for piece in self._pieces(min(self._size, self._position + target.nbytes)):
            target[copied : copied + len(piece)] = piece
            copied += len(piece)
        return copied

    def _pieces(self, end: int) -> Iterator[bytes | memoryview]:
        """The bytes from the read position to ``end``, as whole chunks or views of them; moves the position."""
        while self._position < end:
            index = bisect.bisect_right(self._starts, self._position) - 1
            chunk, offset = self._chunks[index], self._position - self._starts[index]
            count = min(end - self._position, len(chunk) - offset)
            yield chunk if count == len(chunk) else memoryview(chunk)[offset : offset + count]
            self._position += count
