"""Small builders for store tests: component records, artifact bytes, and reading streams back."""

from __future__ import annotations

import hashlib
import random
import uuid as uuid_module
from collections.abc import Iterable, Iterator, Mapping
from typing import BinaryIO

from superlite.stores.base import ArtifactRef, ArtifactStore, ComponentRecord


def make_record(
    identifier: str = "sentiment",
    version: int = 0,
    *,
    type_id: str = "model",
    uuid: str | None = None,
    params: Mapping[str, object] | None = None,
    artifacts: Iterable[ArtifactRef] = (),
    dependencies: Iterable[str] = (),
    class_path: str = "superlite.components.object_model.ObjectModel",
) -> ComponentRecord:
    """A valid record with a fresh uuid; every field can be overridden."""
    params = dict(params or {"batch_size": 8})
    artifacts = tuple(artifacts)
    dependencies = tuple(dependencies)
    content = repr((class_path, sorted(params.items()), [a.digest for a in artifacts], dependencies))
    return ComponentRecord(
        uuid=uuid or uuid_module.uuid4().hex,
        type_id=type_id,
        identifier=identifier,
        version=version,
        class_path=class_path,
        params=params,
        content_hash=hashlib.sha256(content.encode()).hexdigest(),
        artifacts=artifacts,
        dependencies=dependencies,
    )


def make_ref(name: str = "object", data: bytes = b"model bytes", serializer: str = "dill") -> ArtifactRef:
    """An artifact reference describing ``data``."""
    return ArtifactRef(name=name, digest=hashlib.sha256(data).hexdigest(), size=len(data), serializer=serializer)


def random_bytes(size: int, seed: int = 0) -> bytes:
    """``size`` reproducible, incompressible bytes."""
    return random.Random(seed).randbytes(size)


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    """``data`` cut into pieces of ``size`` bytes (the last one shorter)."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def put_bytes(store: ArtifactStore, data: bytes, piece_size: int = 1 << 20) -> str:
    """Store ``data`` in pieces of ``piece_size`` bytes and return its SHA-256."""
    sha256 = hashlib.sha256(data).hexdigest()
    store.put(sha256, pieces(data, piece_size), len(data))
    return sha256


def read_all(stream: BinaryIO, read_size: int = 1 << 20) -> bytes:
    """Everything left in ``stream``, read ``read_size`` bytes at a time, then close it."""
    with stream:
        parts = []
        while part := stream.read(read_size):
            parts.append(part)
    return b"".join(parts)
