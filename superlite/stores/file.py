"""Artifacts as plain files in a directory: ``file:///path/to/artifacts``.

Layout: ``<root>/ab/cd/blake3-abcd…`` (the digest, ``-`` for ``:``; a bare ``abcd…`` for a
SHA-256), fanned out by the first two byte pairs of its hex so no directory grows huge. A put
writes a temporary file beside its destination (a streamed put, whose digest comes last: in the
root), syncs it and renames it into place, so a reader sees the whole artifact or none of it;
concurrent puts of the same bytes each rename an identical file and both succeed.

A file's modification time is the time the artifact was last put or touched (set from the
Python clock, the clock :meth:`~superlite.registry.Registry.collect_garbage` reads, not the
kernel's coarser one). A delete that must respect it renames the file aside first, so a
concurrent touch either lands before the rename (and the file is put back) or fails to find
the file (and the caller puts the bytes again).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit
from urllib.request import url2pathname

from superlite.config import Settings
from superlite.errors import ConfigurationError, IntegrityError, NotFoundError
from superlite.serialization.hashing import split_digest
from superlite.stores.base import CHUNK_SIZE, ArtifactStore

#: The name of a stored artifact's file: its digest, with ``-`` for ``:`` (``blake3-<hex>``).
_STORED = re.compile(r"(blake3-)?[0-9a-f]{64}")
_TEMP_SUFFIX = ".partial"
_DOOMED_SUFFIX = ".deleting"


class FileArtifactStore(ArtifactStore):
    """An :class:`~superlite.stores.base.ArtifactStore` in a local (or network-mounted) directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot use {self.root} as an artifact directory: {exc}") from exc

    def path(self, sha256: str) -> Path:
        """The file that holds (or would hold) the artifact ``sha256``."""
        _, hexdigest = split_digest(sha256)
        return self.root / hexdigest[:2] / hexdigest[2:4] / _file_name(sha256)

    def put(self, sha256: str, chunks: Iterable[bytes], size: int) -> None:
        """Write to a temporary file, sync it, then rename it into place (a no-op if present)."""
        path = self.path(sha256)
        if self.touch(sha256):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}{_TEMP_SUFFIX}")
        try:
            with open(temporary, "xb") as file:
                written = 0
                for chunk in chunks:
                    written += file.write(chunk)
                if written != size:
                    raise IntegrityError(
                        f"artifact {sha256}: expected {size} bytes but received {written}; nothing was stored"
                    )
                file.flush()
                os.fsync(file.fileno())
            _stamp(temporary)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _sync_directory(path.parent)

    def put_stream(self, chunks: Iterable[bytes], digest: Callable[[], str]) -> None:
        """Write a temporary file in the root as the chunks come, then rename it to its digest's place."""
        temporary = self.root / f".upload.{uuid.uuid4().hex}{_TEMP_SUFFIX}"
        try:
            with open(temporary, "xb") as file:
                for chunk in chunks:
                    file.write(chunk)
                name = digest()
                path = self.path(name)
                if self.touch(name):
                    return
                file.flush()
                os.fsync(file.fileno())
            path.parent.mkdir(parents=True, exist_ok=True)
            _stamp(temporary)
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        _sync_directory(path.parent)

    def open(self, sha256: str) -> BinaryIO:
        """The artifact's file, opened for buffered reading."""
        try:
            return open(self.path(sha256), "rb", buffering=CHUNK_SIZE)
        except FileNotFoundError:
            raise NotFoundError(f"artifact {sha256} is not stored in {self.root}") from None

    def exists(self, sha256: str) -> bool:
        """Whether the artifact's file is present."""
        return self.path(sha256).is_file()

    def touch(self, sha256: str) -> bool:
        """Set the file's modification time to now; False when it is not stored."""
        try:
            _stamp(self.path(sha256))
        except FileNotFoundError:
            return False
        return True

    def delete(self, sha256: str, unused_since: datetime | None = None) -> bool:
        """Remove the artifact's file (only if unused since ``unused_since``); absent is not an error."""
        path = self.path(sha256)
        if unused_since is None:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            return True
        cutoff = unused_since.timestamp()
        try:
            if path.stat().st_mtime >= cutoff:
                return False
            doomed = path.with_name(f".{path.name}.{uuid.uuid4().hex}{_DOOMED_SUFFIX}")
            os.rename(path, doomed)
        except FileNotFoundError:
            return False
        if doomed.stat().st_mtime >= cutoff:
            # Touched between the check and the rename: put it back (unless a put already did).
            try:
                os.link(doomed, path)
            except FileExistsError:
                pass
            doomed.unlink()
            return False
        doomed.unlink()
        return True

    def list(self) -> set[str]:
        """The SHA-256 of every stored artifact (temporary files of unfinished puts excluded)."""
        return {path.name.replace("-", ":") for path in self.root.glob("??/??/*") if _STORED.fullmatch(path.name)}

    def collect_leftovers(self, older_than: datetime) -> int:
        """Remove ``.partial`` files of killed puts; put back, or remove, files of killed deletes.

        A ``.deleting`` file is an artifact a delete moved aside before it died: if nothing took
        its place it is put back (a later collection frees it if it is still unreferenced), so a
        delete killed while undoing itself for a concurrent apply loses nothing.
        """
        cutoff, handled = older_than.timestamp(), 0
        patterns = (f".*{_TEMP_SUFFIX}", f"??/??/.*{_TEMP_SUFFIX}", f"??/??/.*{_DOOMED_SUFFIX}")
        for leftover in [path for pattern in patterns for path in self.root.glob(pattern)]:
            try:
                if leftover.stat().st_mtime >= cutoff:
                    continue
                if leftover.name.endswith(_DOOMED_SUFFIX):
                    with contextlib.suppress(FileExistsError):
                        os.link(leftover, leftover.with_name(leftover.name[1:].split(".")[0]))
                leftover.unlink()
            except FileNotFoundError:
                continue
            handled += 1
        return handled


def _file_name(digest: str) -> str:
    """The file name of ``digest`` (``:`` is not allowed in Windows file names)."""
    return digest.replace(":", "-")


def _stamp(path: Path) -> None:
    now = time.time_ns()
    os.utime(path, ns=(now, now))


def _sync_directory(directory: Path) -> None:
    # Make the rename itself durable; not every platform can open a directory.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def open_file_store(uri: str, settings: Settings) -> FileArtifactStore:
    """Open ``file:///absolute/path`` (or ``file://localhost/…``) as a :class:`FileArtifactStore`."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost") or not parts.path:
        raise ConfigurationError(
            f"not a local artifact directory URI: {uri!r}; use file:///absolute/path/to/artifacts"
        )
    return FileArtifactStore(url2pathname(parts.path))
