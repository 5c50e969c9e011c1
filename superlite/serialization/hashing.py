"""SHA-256 over streams, computed while the bytes pass, never after a second read."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Iterator
from typing import BinaryIO

from superlite.errors import IntegrityError


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def canonical_json_hash(value: object) -> str:
    """The SHA-256 of ``value`` rendered as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return sha256_hex(text.encode())


class HashingWriter:
    """A write-only file wrapper that hashes and counts everything written through it."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        """Write ``data`` to the target, hashing it on the way."""
        view = memoryview(data)
        self._hash.update(view)
        self.size += view.nbytes
        return self._target.write(view)

    def flush(self) -> None:
        """Flush the target."""
        self._target.flush()

    @property
    def sha256(self) -> str:
        """Hex digest of everything written so far."""
        return self._hash.hexdigest()


def iter_chunks(stream: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    """Yield ``stream`` in pieces of at most ``chunk_size`` bytes until it ends."""
    while chunk := stream.read(chunk_size):
        yield chunk


def prefetch_chunks(stream: BinaryIO, chunk_size: int, depth: int = 2) -> Iterator[bytes]:
    """Like :func:`iter_chunks`, but a thread reads up to ``depth`` chunks ahead.

    Reading from a database or socket and hashing both release the GIL, so the next chunk
    arrives while this one is hashed. An error in the reader is raised in the consumer.
    """
    ready: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: bytes | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in iter_chunks(stream, chunk_size):
                if not offer(chunk):
                    return
            offer(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            offer(exc)

    reader = threading.Thread(target=produce, name="superlite-prefetch", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def copy_verified(source: BinaryIO, target: BinaryIO, expected_sha256: str, what: str, chunk_size: int) -> int:
    """Copy ``source`` into ``target`` while hashing; raise IntegrityError if the hash differs.

    ``what`` names the artifact (component, version, field) in the error message. Returns the
    number of bytes copied.
    """
    writer = HashingWriter(target)
    for chunk in prefetch_chunks(source, chunk_size):
        writer.write(chunk)
    if writer.sha256 != expected_sha256:
        raise IntegrityError(
            f"artifact {what} is corrupt: expected SHA-256 {expected_sha256}, read {writer.sha256} "
            f"({writer.size} bytes). It was not deserialized. Restore the artifact from a backup, "
            f"or re-apply the component."
        )
    return writer.size
