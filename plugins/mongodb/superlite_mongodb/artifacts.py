"""Artifacts in GridFS, addressed by digest (BLAKE3, or SHA-256 before it), streamed in chunks both ways.

Layout: a GridFS bucket (``superlite_artifacts`` by default: collections
``superlite_artifacts.files`` and ``superlite_artifacts.chunks``) in which each artifact is one
GridFS file whose ``filename`` is its digest and whose ``_id`` is a fresh ObjectId per upload.
A unique index on ``filename`` makes the files document the commit point:

* GridFS writes every chunk first and the files document last, and readers look files up by
  name, so a reader never sees a partial artifact;
* two concurrent puts of the same bytes upload under different ``_id`` values, so their chunks
  never collide; the second files document is refused by the unique index, and the loser
  deletes its own chunks and reports success, since the bytes are stored;
* a put that fails part-way removes its chunks; one killed part-way leaves chunks no files
  document names, invisible to readers, which :meth:`GridFSArtifactStore.repair` removes;
* the files document's ``uploadDate`` is the time the artifact was last put or touched:
  :meth:`GridFSArtifactStore.touch` renews it and a delete with ``unused_since`` removes the
  files document only while it is older, in one ``find_one_and_delete``, so the two cannot
  interleave.

Only pymongo's ``GridIn`` / ``GridOut`` and plain collection calls are used: they behave the same
on a real server and on mongomock (``GridFSBucket.upload_from_stream`` and ``GridFS.find()``
without a filter do not work under mongomock).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import BinaryIO

from bson import ObjectId
from gridfs import GridIn, GridOut
from gridfs.errors import CorruptGridFile, FileExists
from pymongo import ASCENDING

from superlite.errors import IntegrityError, NotFoundError
from superlite.stores.base import ArtifactStore
from superlite_mongodb.connection import MongoConnection

DEFAULT_BUCKET = "superlite_artifacts"

#: GridFS chunk size: the GridFS default, so any MongoDB tool reads the files.
GRIDFS_CHUNK_SIZE = 255 * 1024

#: How old chunks without a files document must be before :meth:`GridFSArtifactStore.repair`
#: takes them for the remains of a dead upload rather than one still running.
DEFAULT_REPAIR_GRACE = timedelta(hours=1)


class GridFSArtifactStore(ArtifactStore):
    """An :class:`~superlite.stores.base.ArtifactStore` in one GridFS bucket (see module docs)."""

    def __init__(self, connection: MongoConnection, bucket: str = DEFAULT_BUCKET) -> None:
        self._connection = connection
        self._give_back = connection.leases.take()
        self._closed = False
        self._root = connection.database[bucket]
        self._files = self._root.files
        self._chunks = self._root.chunks
        self._indexed = False

    def _ensure_indexes(self) -> None:
        # Made on the first put, not on open: a database whose artifacts live elsewhere
        # (connect(..., artifacts="file://...")) gets no empty GridFS collections.
        if not self._indexed:
            self._files.create_index([("filename", ASCENDING)], unique=True, name="superlite_sha256_unique")
            self._chunks.create_index([("files_id", ASCENDING), ("n", ASCENDING)], unique=True)
            self._indexed = True

    def put(self, sha256: str, chunks: Iterable[bytes], size: int) -> None:
        """Stream ``chunks`` into GridFS under ``sha256``; a no-op if it is already stored.

        The SHA-256 is the caller's (the Datalayer hashes while serializing, and every read is
        verified); the size is checked here, for free: if the stream does not yield exactly
        ``size`` bytes, nothing is kept and :class:`~superlite.errors.IntegrityError` is raised.
        """
        if self.touch(sha256):
            return
        self._ensure_indexes()
        upload = GridIn(self._root, _id=ObjectId(), filename=sha256, chunkSize=GRIDFS_CHUNK_SIZE)
        written = 0
        try:
            for chunk in chunks:
                written += len(chunk)
                upload.write(chunk if isinstance(chunk, bytes) else bytes(chunk))
            if written != size:
                raise IntegrityError(
                    f"refusing to store artifact {sha256}: the stream gave {written} bytes, expected {size}"
                )
            upload.close()
        except FileExists:
            upload.abort()
        except BaseException:
            upload.abort()
            raise

    def put_stream(self, chunks: Iterable[bytes], digest: Callable[[], str]) -> None:
        """Stream ``chunks`` into GridFS as they come; the files document, written last, names them ``digest()``.

        Until then the chunks belong to no files document, invisible to readers like those of
        any upload under way; an identical artifact stored already keeps its place (the unique
        index refuses the second files document) and the new chunks are removed.
        """
        self._ensure_indexes()
        upload = GridIn(self._root, _id=ObjectId(), chunkSize=GRIDFS_CHUNK_SIZE)
        try:
            for chunk in chunks:
                upload.write(chunk if isinstance(chunk, bytes) else bytes(chunk))
            upload.filename = digest()
            upload.close()
        except FileExists:
            upload.abort()
            self.touch(digest())
        except BaseException:
            upload.abort()
            raise

    def open(self, sha256: str) -> BinaryIO:
        """A streaming reader (a GridFS ``GridOut``) over the artifact, chunk by chunk."""
        document = self._files.find_one({"filename": sha256})
        if document is None:
            raise NotFoundError(f"artifact {sha256} is not in GridFS bucket {self._root.name!r}")
        return _CheckedOut(self._root, file_document=document)

    def exists(self, sha256: str) -> bool:
        """Whether ``sha256`` is stored (completely: partial uploads are never visible)."""
        return self._files.count_documents({"filename": sha256}, limit=1) > 0

    def touch(self, sha256: str) -> bool:
        """Set the files document's ``uploadDate`` to now; False when it is not stored."""
        now = datetime.now(timezone.utc)
        return self._files.update_one({"filename": sha256}, {"$set": {"uploadDate": now}}).matched_count > 0

    def delete(self, sha256: str, unused_since: datetime | None = None) -> bool:
        """Remove ``sha256`` (only if unused since ``unused_since``): files document first, then chunks."""
        query: dict[str, object] = {"filename": sha256}
        if unused_since is not None:
            # BSON dates keep milliseconds: compare at that precision, so a touch made after
            # ``unused_since`` never reads as older than it.
            query["uploadDate"] = {"$lt": _to_milliseconds(unused_since)}
        document = self._files.find_one_and_delete(query, projection={"_id": 1})
        if document is None:
            return False
        self._chunks.delete_many({"files_id": document["_id"]})
        return True

    def list(self) -> set[str]:
        """The SHA-256 of every stored artifact."""
        return set(self._files.distinct("filename"))

    def repair(self, grace: timedelta = DEFAULT_REPAIR_GRACE) -> int:
        """Delete chunks left by uploads that died more than ``grace`` ago; return how many.

        Such chunks belong to no files document, so no reader ever saw them. Uploads younger
        than ``grace`` (judged by the creation time in their ObjectId) may still be running
        and are left alone.
        """
        cutoff = datetime.now(timezone.utc) - grace
        stored = set(self._files.distinct("_id"))
        orphans = [
            files_id
            for files_id in self._chunks.distinct("files_id")
            if files_id not in stored and _started(files_id) <= cutoff
        ]
        if not orphans:
            return 0
        return self._chunks.delete_many({"files_id": {"$in": orphans}}).deleted_count

    def close(self) -> None:
        """Release this store's share of the connection. Calling it twice is harmless."""
        if not self._closed:
            self._closed = True
            self._give_back()


def _started(files_id: object) -> datetime:
    # Uploads written by this store have ObjectId ids; anything else counts as old.
    if isinstance(files_id, ObjectId):
        return files_id.generation_time
    return datetime.min.replace(tzinfo=timezone.utc)


def _to_milliseconds(moment: datetime) -> datetime:
    moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class _CheckedOut(GridOut):
    """A ``GridOut`` whose missing or short chunks (a truncated artifact) raise IntegrityError."""

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes, as ``GridOut.read``; a damaged file is an IntegrityError."""
        try:
            return super().read(size)
        except CorruptGridFile as exc:
            raise IntegrityError(
                f"artifact {self.filename} is truncated or damaged in GridFS ({exc}). It was not "
                f"deserialized. Restore the artifact from a backup, or re-apply the component."
            ) from exc
