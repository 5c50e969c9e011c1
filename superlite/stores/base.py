"""The two store interfaces every backend implements, and the records they exchange.

A :class:`MetadataStore` keeps component records (who, which version, which class, which
parameters, which artifacts, which dependencies). An :class:`ArtifactStore` keeps bytes,
addressed by their SHA-256. The :class:`~superlite.datalayer.Datalayer` composes the two;
backends never call each other. Every backend proves itself against the shared contract suite
in :mod:`superlite.testing.store_contract`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

#: Version of the metadata layout written by this release. A store refuses (with
#: :class:`~superlite.errors.SchemaVersionError`) a database whose recorded version is higher.
SCHEMA_VERSION = 1

#: Size of the pieces artifacts are streamed in, both directions.
CHUNK_SIZE = 8 * 1024 * 1024


@dataclass(frozen=True)
class ArtifactRef:
    """One artifact of a component: the field it belongs to, its SHA-256 and its size in bytes."""

    name: str
    sha256: str
    size: int
    serializer: str


@dataclass(frozen=True)
class ComponentRecord:
    """Everything stored about one version of one component.

    ``(type_id, identifier, version)`` is unique; ``uuid`` is the primary key.
    ``content_hash`` is the SHA-256 of the class path, parameters, artifact hashes and
    dependencies: two applies with the same content hash are the same version.
    ``dependencies`` lists the uuids of the components this one refers to.
    """

    uuid: str
    type_id: str
    identifier: str
    version: int
    class_path: str
    params: Mapping[str, object]
    content_hash: str
    artifacts: tuple[ArtifactRef, ...] = ()
    dependencies: tuple[str, ...] = ()
    created_at: datetime | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view of the record (used by ``superlite info``)."""
        return {
            "uuid": self.uuid,
            "type_id": self.type_id,
            "identifier": self.identifier,
            "version": self.version,
            "class_path": self.class_path,
            "params": dict(self.params),
            "content_hash": self.content_hash,
            "artifacts": [
                {"name": a.name, "sha256": a.sha256, "size": a.size, "serializer": a.serializer}
                for a in self.artifacts
            ],
            "dependencies": list(self.dependencies),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


@dataclass(frozen=True)
class ChangeEvent:
    """One entry of the change feed: something that changed in the registry, in commit order.

    ``id`` grows with every change and events become visible in ``id`` order (a reader that saw
    event ``n`` never later finds a new event below ``n``). ``kind`` is ``"apply"`` (a record was
    inserted) or ``"remove"`` (a record was deleted); later releases add kinds, so readers skip
    kinds they do not know. ``payload`` holds extra JSON facts about the change.
    """

    id: int
    kind: str
    type_id: str
    identifier: str
    uuid: str | None = None
    version: int | None = None
    payload: Mapping[str, object] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database's superlite schema stands: its revision, this release's, and the steps between."""

    current: str | None
    head: str
    pending: tuple[str, ...] = ()

    @property
    def up_to_date(self) -> bool:
        """Whether no migration step is pending."""
        return not self.pending


@dataclass(frozen=True)
class StoreBundle:
    """What opening a database URI yields: its metadata store and its default artifact store."""

    metadata: MetadataStore
    artifacts: ArtifactStore
    extra: Mapping[str, object] = field(default_factory=dict)


class MetadataStore(abc.ABC):
    """Component records, their versions and the dependencies between them.

    Implementations must make ``(type_id, identifier, version)`` unique and make
    :meth:`insert` atomic: the record, its artifact references and its dependencies are
    written together or not at all.
    """

    @abc.abstractmethod
    def insert(self, record: ComponentRecord) -> None:
        """Write ``record`` atomically.

        Raises :class:`~superlite.errors.VersionConflictError` when its
        ``(type_id, identifier, version)`` is already taken.
        """

    @abc.abstractmethod
    def get(self, type_id: str, identifier: str, version: int | None = None) -> ComponentRecord | None:
        """The record of one version (the highest when ``version`` is None), or None."""

    @abc.abstractmethod
    def get_by_uuid(self, uuid: str) -> ComponentRecord | None:
        """The record with this uuid, or None."""

    @abc.abstractmethod
    def type_ids(self) -> list[str]:
        """Every type_id that has at least one record, sorted."""

    @abc.abstractmethod
    def identifiers(self, type_id: str) -> list[str]:
        """Every identifier of ``type_id`` that has at least one record, sorted."""

    @abc.abstractmethod
    def versions(self, type_id: str, identifier: str) -> list[int]:
        """The versions of one identifier, oldest first."""

    @abc.abstractmethod
    def dependents(self, uuids: Iterable[str]) -> list[ComponentRecord]:
        """Records that depend on any of ``uuids`` (and are not among them)."""

    @abc.abstractmethod
    def delete(self, uuids: Iterable[str]) -> None:
        """Delete these records, with their artifact references and dependencies, atomically."""

    @abc.abstractmethod
    def artifact_references(self, sha256: str) -> int:
        """How many component records refer to the artifact ``sha256``."""

    @abc.abstractmethod
    def referenced_artifacts(self) -> set[str]:
        """The SHA-256 of every artifact some record refers to (used to collect orphans)."""

    def close(self) -> None:
        """Release connections. Calling it twice is harmless."""


class ArtifactStore(abc.ABC):
    """Bytes addressed by their SHA-256, streamed in chunks in both directions.

    The store does not count references (the metadata store knows who uses what); it stores,
    streams and deletes. ``put`` of bytes already present is a cheap no-op, and concurrent puts
    of the same bytes both succeed.
    """

    @abc.abstractmethod
    def put(self, sha256: str, chunks: Iterable[bytes], size: int) -> None:
        """Store the bytes yielded by ``chunks`` under ``sha256``.

        The caller has computed ``sha256`` and ``size``; the write is all-or-nothing, so a
        reader never sees a partial artifact.
        """

    @abc.abstractmethod
    def open(self, sha256: str) -> BinaryIO:
        """A readable binary stream of the artifact (raises ``NotFoundError`` when absent).

        The stream is not verified here; :class:`~superlite.datalayer.Datalayer` checks the
        SHA-256 of everything it reads.
        """

    @abc.abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether ``sha256`` is stored."""

    @abc.abstractmethod
    def touch(self, sha256: str) -> bool:
        """Mark ``sha256`` as used now, renewing its grace period; False when it is not stored.

        Every artifact carries the time it was last put or touched. :meth:`delete` with
        ``unused_since`` compares against that time atomically, so a touch that lands before
        the delete always keeps the artifact (see :meth:`superlite.registry.Registry.collect_garbage`).
        ``put`` of bytes already stored touches them.
        """

    @abc.abstractmethod
    def delete(self, sha256: str, unused_since: datetime | None = None) -> bool:
        """Remove ``sha256``; return whether it was removed (absent is not an error).

        With ``unused_since`` (an aware datetime), remove it only if it was last put or touched
        before that instant, judged atomically against a concurrent :meth:`touch`.
        """

    @abc.abstractmethod
    def list(self) -> set[str]:
        """The SHA-256 of every stored artifact."""

    def close(self) -> None:
        """Release connections or file handles. Calling it twice is harmless."""
