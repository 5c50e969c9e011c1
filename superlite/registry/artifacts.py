"""Artifact bytes on their way between a serializer and the artifact store, hashed and verified.

Writing: a field is serialized once into a spool (memory, or a temporary file when large) while
its SHA-256 and size are computed; the bytes are then uploaded under that digest unless the
store has them already. Reading: the bytes are copied into a scratch file while being hashed,
and deserialized only when the digest matches (:class:`~superlite.errors.IntegrityError`
otherwise), so a corrupt artifact never reaches a deserializer.
"""

from __future__ import annotations

import errno
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import IO

from superlite.errors import NotFoundError, StorageFullError
from superlite.serialization.hashing import HashingWriter, copy_verified, iter_chunks
from superlite.serialization.serializers import get_serializer
from superlite.stores.base import CHUNK_SIZE, ArtifactRef, ArtifactStore, ComponentRecord

#: Artifacts up to this size are serialized in memory; larger ones spill to a temporary file.
SPOOL_BYTES = 64 * 1024 * 1024

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


@dataclass(frozen=True)
class StagedArtifact:
    """A serialized field waiting to be uploaded: its reference and its bytes."""

    ref: ArtifactRef
    spool: IO[bytes]


class ArtifactPipeline:
    """Serializes, uploads, downloads and verifies artifacts for one artifact store."""

    def __init__(self, store: ArtifactStore) -> None:
        self.store = store

    def stage(self, name: str, serializer_name: str, obj: object, spools: ExitStack) -> StagedArtifact:
        """Serialize ``obj`` with ``serializer_name`` into a spool owned by ``spools``."""
        spool: IO[bytes] = spools.enter_context(tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES))  # type: ignore[arg-type]
        writer = HashingWriter(spool)  # type: ignore[arg-type]
        with reporting_full_disk(f"the temporary directory {tempfile.gettempdir()}"):
            get_serializer(serializer_name).dump(obj, writer)  # type: ignore[arg-type]
        return StagedArtifact(ArtifactRef(name, writer.sha256, writer.size, serializer_name), spool)

    def upload(self, staged: StagedArtifact) -> None:
        """Put the staged bytes in the store, or renew them (:meth:`ArtifactStore.touch`) if it holds them."""
        ref = staged.ref
        if not self.store.touch(ref.sha256):
            staged.spool.seek(0)
            with reporting_full_disk(f"the artifact store ({type(self.store).__name__})"):
                self.store.put(ref.sha256, iter_chunks(staged.spool, CHUNK_SIZE), ref.size)  # type: ignore[arg-type]

    def read(self, record: ComponentRecord, ref: ArtifactRef) -> object:
        """The object stored as ``ref`` of ``record``, after its digest is verified."""
        what = f"{ref.name!r} of {record.type_id} {record.identifier!r} version {record.version} (sha256 {ref.sha256})"
        with _scratch_file(ref.size) as scratch:
            try:
                source = self.store.open(ref.sha256)
            except NotFoundError as exc:
                raise NotFoundError(f"artifact {what} is missing from the artifact store") from exc
            with source:
                copy_verified(source, scratch, ref.sha256, what, CHUNK_SIZE)  # type: ignore[arg-type]
            scratch.seek(0)
            return get_serializer(ref.serializer).load(scratch)  # type: ignore[arg-type]


def _scratch_file(size: int) -> IO[bytes]:
    """A temporary file for ``size`` bytes: in memory when small, straight on disk when large."""
    if size > SPOOL_BYTES:
        return tempfile.TemporaryFile()
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # type: ignore[return-value]
