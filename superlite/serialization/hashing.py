"""Content hashes over streams, computed while the bytes pass, never after a second read.

An artifact is addressed by its *digest*, a string that names its algorithm:

* ``blake3:<64 hex>``: BLAKE3, the default for new artifacts. It runs several times faster
  than SHA-256 (SIMD, and several threads on large buffers), so hashing stays off the
  critical path of ``apply`` and ``load``;
* a bare ``<64 hex>``: SHA-256, as every artifact was addressed before BLAKE3, and as new ones
  are when ``connect(..., artifact_hash="sha256")`` asks for it (``sha256:<hex>`` is read too).

Both are cryptographic hashes: a digest that matches means the bytes are the ones stored.
"""

from __future__ import annotations

import hashlib
import json
import queue
import re
import threading
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from superlite.errors import IntegrityError

#: The algorithms an artifact digest may name; new artifacts use :data:`DEFAULT_ALGORITHM`.
ALGORITHMS = ("blake3", "sha256")
DEFAULT_ALGORITHM = "blake3"

_HEX64 = re.compile(r"[0-9a-f]{64}")


class _Hash(Protocol):
    def update(self, data: bytes | memoryview, /) -> object: ...
    def hexdigest(self) -> str: ...


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def canonical_json_hash(value: object) -> str:
    """The SHA-256 of ``value`` rendered as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return sha256_hex(text.encode())


def split_digest(digest: str) -> tuple[str, str]:
    """``(algorithm, hex)`` of an artifact digest; ValueError when it is not one."""
    algorithm, _, hexdigest = digest.rpartition(":")
    algorithm = algorithm or "sha256"
    if algorithm not in ALGORITHMS or not _HEX64.fullmatch(hexdigest):
        raise ValueError(
            f"{digest!r} is not an artifact digest: expected 'blake3:<64 hex digits>' or a SHA-256 (64 hex digits)"
        )
    return algorithm, hexdigest


def format_digest(algorithm: str, hexdigest: str) -> str:
    """The digest string for ``hexdigest``: bare for SHA-256 (readable by older releases), else ``algorithm:hex``."""
    return hexdigest if algorithm == "sha256" else f"{algorithm}:{hexdigest}"


def new_hash(algorithm: str) -> _Hash:
    """A fresh incremental hash of ``algorithm`` (one of :data:`ALGORITHMS`)."""
    if algorithm == "blake3":
        import blake3

        return blake3.blake3(max_threads=blake3.blake3.AUTO)  # type: ignore[no-any-return]
    if algorithm == "sha256":
        return hashlib.sha256()
    raise ValueError(f"unknown artifact hash {algorithm!r}: choose one of {', '.join(ALGORITHMS)}")


def digest_of(data: bytes, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """The artifact digest of ``data``."""
    hasher = new_hash(algorithm)
    hasher.update(data)
    return format_digest(algorithm, hasher.hexdigest())


class ContentHasher:
    """Hashes and counts bytes fed to it; :attr:`digest` names the algorithm."""

    def __init__(self, algorithm: str = DEFAULT_ALGORITHM) -> None:
        self.algorithm = algorithm
        self._hash = new_hash(algorithm)
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Add ``data`` (hashing releases the GIL on large buffers)."""
        self._hash.update(data)
        self.size += memoryview(data).nbytes

    @property
    def digest(self) -> str:
        """The digest of everything fed so far (see :func:`format_digest`)."""
        return format_digest(self.algorithm, self._hash.hexdigest())


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


def verify(hasher: ContentHasher, expected: str, what: str) -> None:
    """Raise :class:`~superlite.errors.IntegrityError` unless ``hasher`` saw the bytes of ``expected``."""
    if hasher.digest != format_digest(*split_digest(expected)):
        raise IntegrityError(
            f"artifact {what} is corrupt: expected {expected}, read {hasher.digest} "
            f"({hasher.size} bytes). It was not deserialized. Restore the artifact from a backup, "
            f"or re-apply the component."
        )


def copy_verified(source: BinaryIO, target: BinaryIO, expected: str, what: str, chunk_size: int) -> int:
    """Copy ``source`` into ``target`` while hashing; raise IntegrityError if the digest differs.

    ``expected`` is the artifact's digest (its algorithm is the one used); ``what`` names the
    artifact (component, version, field) in the error message. Returns the number of bytes copied.
    """
    hasher = ContentHasher(split_digest(expected)[0])
    for chunk in prefetch_chunks(source, chunk_size):
        hasher.update(chunk)
        target.write(chunk)
    verify(hasher, expected, what)
    return hasher.size
