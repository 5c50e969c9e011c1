"""The two store interfaces every backend implements, and the records they exchange.

A :class:`MetadataStore` keeps component records (who, which version, which class, which
parameters, which artifacts, which dependencies). An :class:`ArtifactStore` keeps bytes,
addressed by their SHA-256. The :class:`~superlite.datalayer.Datalayer` composes the two;
backends never call each other. Every backend proves itself against the shared contract suite
in :mod:`superlite.testing.store_contract`.
"""

from __future__ import annotations

import abc
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

#: Size of the pieces artifacts are streamed in, both directions.
CHUNK_SIZE = 8 * 1024 * 1024


@dataclass(frozen=True)
class ArtifactRef:
    """One artifact of a component: the field it belongs to, its digest, its size in bytes and its serializer.

    ``digest`` is ``blake3:<hex>``, or a bare SHA-256 hex for artifacts stored before BLAKE3
    (see :mod:`superlite.serialization.hashing`).
    """

    name: str
    digest: str
    size: int
    serializer: str


@dataclass(frozen=True)
class ComponentRecord:
    """Everything stored about one version of one component.

    ``(type_id, identifier, version)`` is unique; ``uuid`` is the primary key.
    ``content_hash`` is the SHA-256 of the class path, parameters, artifact hashes and
    dependencies: two applies with the same content hash are the same version.
    ``dependencies`` lists the uuids of the components this one refers to. ``info`` describes
    the version without being part of it (``description``, ``tags``, ``metrics``, ``source``,
    ``signature``): not in the content hash, and its tags may change after the version is stored.
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
    info: Mapping[str, object] = field(default_factory=dict)

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
                {"name": a.name, "digest": a.digest, "size": a.size, "serializer": a.serializer}
                for a in self.artifacts
            ],
            "dependencies": list(self.dependencies),
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "info": dict(self.info),
        }


@dataclass(frozen=True)
class ChangeEvent:
    """One entry of the change feed: something that changed in the registry, in commit order.

    ``id`` grows with every change (it may skip numbers) and events become visible in ``id``
    order (a reader that saw event ``n`` never later finds a new event below ``n``). ``kind`` is ``"apply"`` (a record was
    inserted), ``"remove"`` (a record was deleted) or ``"alias"`` (an alias was set, moved or
    removed; ``payload`` says which and how); later releases add kinds, so readers skip
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
class AliasState:
    """Where one alias of one component points now: a target version, and maybe a canary.

    ``uuid`` is the target version's uuid (so resolving an alias takes one read). While a canary
    runs, ``canary_percent`` of requests (1–99) go to ``canary_version``. ``previous_version`` is
    the target before the last move, which :meth:`~superlite.datalayer.Datalayer.rollback` restores.
    ``revision`` grows with every change: writers compare it to detect a concurrent move.
    """

    type_id: str
    identifier: str
    alias: str
    version: int
    uuid: str
    canary_version: int | None = None
    canary_uuid: str | None = None
    canary_percent: int = 0
    previous_version: int | None = None
    revision: int = 1
    updated_at: datetime | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view (used by ``db.aliases`` and the CLI)."""
        view: dict[str, object] = {"version": self.version, "uuid": self.uuid}
        if self.canary_version is not None:
            view["canary"] = {"version": self.canary_version, "uuid": self.canary_uuid, "percent": self.canary_percent}
        view["previous_version"] = self.previous_version
        view["revision"] = self.revision
        view["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return view


@dataclass(frozen=True)
class AliasChange:
    """One entry of an alias's history: what was done, from which state to which, by whom and why.

    ``action`` is ``"set"``, ``"remove"``, ``"canary"``, ``"promote"`` or ``"rollback"``.
    ``before``/``after`` are :meth:`AliasState.to_dict` views (None when the alias did not exist,
    or no longer does). ``who`` names the process (user, host, pid).
    """

    type_id: str
    identifier: str
    alias: str
    action: str
    before: Mapping[str, object] | None
    after: Mapping[str, object] | None
    who: str
    why: str | None = None
    at: datetime | None = None
    id: int | None = None

    def event(self, state: AliasState | None) -> dict[str, Any]:
        """The change-feed fields of this move to ``state`` (kind ``alias``; no id or time yet).

        ``uuid``/``version`` name the new target (None once the alias is deleted).
        """
        return {
            "kind": "alias",
            "type_id": self.type_id,
            "identifier": self.identifier,
            "uuid": state.uuid if state is not None else None,
            "version": state.version if state is not None else None,
            "payload": {
                "alias": self.alias, "action": self.action, "after": self.after,
                "revision": state.revision if state is not None else None,
            },
        }

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "id": self.id,
            "alias": self.alias,
            "action": self.action,
            "before": dict(self.before) if self.before is not None else None,
            "after": dict(self.after) if self.after is not None else None,
            "who": self.who,
            "why": self.why,
            "at": self.at.isoformat() if self.at else None,
        }


@dataclass(frozen=True)
class WorkerStatus:
    """What one serving process (a worker's pool process) last reported about itself.

    ``id`` is ``host:pid``. ``follow`` lists the targets it keeps loaded (``--follow`` specs) and
    ``policy`` the version policy of specs without an alias. ``loaded`` describes the models in
    its cache (``uuid``, ``type_id``, ``identifier``, ``version``, ``size``); ``targets`` maps
    each followed or pending uuid to ``{"state": "loading" | "ready" | "failed", "reason": ...}``.
    It rewrites its row every ``heartbeat_interval`` seconds: ``heartbeat_at`` says when it last did.
    """

    id: str
    host: str
    pid: int
    queues: tuple[str, ...] = ()
    follow: tuple[str, ...] = ()
    policy: str = "latest:1"
    loaded: tuple[Mapping[str, object], ...] = ()
    targets: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    heartbeat_interval: float = 2.0
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None


@dataclass(frozen=True)
class PendingMove:
    """An alias move waiting for following workers to load its new targets (phase one of a swap).

    ``uuids`` are the versions the move would start serving; ``expires_at`` bounds how long
    workers keep acting on it if the process that asked for it dies.
    """

    id: str
    type_id: str
    identifier: str
    alias: str
    uuids: tuple[str, ...]
    requested_by: str
    expires_at: datetime


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
    written together or not at all. Every insert and delete also writes a
    :class:`ChangeEvent` (``"apply"``, ``"remove"``) with the change, never without it.

    Opening a store checks the database's schema: one written by a newer superlite is refused
    with :class:`~superlite.errors.SchemaVersionError`; one that is behind is upgraded, unless
    the ``auto_upgrade`` option is off, in which case it opens as it is and
    :meth:`schema_status` lists what is pending.
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

    @abc.abstractmethod
    def aliases(self, type_id: str, identifier: str | None = None) -> list[AliasState]:
        """The aliases of one identifier (or of every identifier of ``type_id``), sorted by name."""

    @abc.abstractmethod
    def alias(self, type_id: str, identifier: str, alias: str) -> AliasState | None:
        """One alias's state, or None when it is not set."""

    @abc.abstractmethod
    def write_alias(self, change: AliasChange, state: AliasState | None, expected_revision: int) -> None:
        """Set (``state``) or delete (``state is None``) one alias, and record ``change``, atomically.

        Writes only if the alias's stored revision is still ``expected_revision`` (0: not set);
        otherwise raises :class:`~superlite.errors.VersionConflictError`, so that two processes
        moving one alias at once never lose a move: the loser re-reads and tries again. The
        history entry and a change-feed event (kind ``"alias"``) are written with the state.
        """

    @abc.abstractmethod
    def alias_history(self, type_id: str, identifier: str, alias: str | None = None, limit: int = 100) -> list[AliasChange]:
        """The alias changes of one identifier (one alias's when given), newest first."""

    @abc.abstractmethod
    def changes(self, since: int = 0, limit: int = 1000) -> list[ChangeEvent]:
        """The change events with an id above ``since``, in id order, at most ``limit`` of them.

        Poll with the id of the last event seen to follow the feed: no event below it appears later.
        """

    @abc.abstractmethod
    def last_change_id(self) -> int:
        """An id to follow the feed from now on: ``changes(since=last_change_id())`` holds only later changes.

        0 for a database where nothing changed yet.
        """

    @abc.abstractmethod
    def update_info(self, uuid: str, info: Mapping[str, object]) -> None:
        """Replace the ``info`` of the record ``uuid`` (NotFoundError when there is none)."""

    def find_by_content(self, type_id: str, identifier: str, content_hash: str) -> ComponentRecord | None:
        """The lowest version of ``identifier`` with this content hash, or None.

        This default reads every version; stores override it with one query.
        """
        for version in self.versions(type_id, identifier):
            record = self.get(type_id, identifier, version)
            if record is not None and record.content_hash == content_hash:
                return record
        return None

    def wait_for_changes(self, seconds: float) -> bool:
        """Block until a change may have been committed or ``seconds`` passed, and return True.

        A store whose database cannot notify (the default) returns False at once: the caller
        then polls :meth:`changes` at its own pace.
        """
        return False

    @abc.abstractmethod
    def schema_status(self) -> SchemaStatus:
        """The database's schema revision, the newest this release knows, and the steps between."""

    @abc.abstractmethod
    def upgrade(self) -> SchemaStatus:
        """Run the pending schema steps (one process at a time; a no-op when up to date), then report."""

    @abc.abstractmethod
    def record_alias_change(self, change: AliasChange) -> None:
        """Append ``change`` to the alias history without moving the alias (a refused move)."""

    # -- serving workers (hot swap) ---------------------------------------------------------------

    @abc.abstractmethod
    def write_worker(self, status: WorkerStatus) -> None:
        """Insert or replace the status row of worker ``status.id`` (its heartbeat)."""

    @abc.abstractmethod
    def workers(self) -> list[WorkerStatus]:
        """Every worker status row, live or stale, sorted by id."""

    @abc.abstractmethod
    def remove_workers(self, ids: Iterable[str]) -> None:
        """Delete these workers' rows (a worker leaving, or stale rows being pruned)."""

    @abc.abstractmethod
    def add_pending(self, move: PendingMove) -> None:
        """Record a pending alias move (``move.id`` is new)."""

    @abc.abstractmethod
    def pending_moves(self) -> list[PendingMove]:
        """Every recorded pending move (expired ones included), oldest first."""

    @abc.abstractmethod
    def remove_pending(self, ids: Iterable[str]) -> None:
        """Delete these pending moves; unknown ids are ignored."""

    def close(self) -> None:
        """Release connections. Calling it twice is harmless."""


class ArtifactStore(abc.ABC):
    """Bytes addressed by their digest, streamed in chunks in both directions.

    A digest names its hash: ``blake3:<hex>``, or a bare SHA-256 hex (see
    :mod:`superlite.serialization.hashing`); the ``sha256`` parameters below take either. The
    store does not count references (the metadata store knows who uses what); it stores,
    streams and deletes. ``put`` of bytes already present is a cheap no-op, and concurrent puts
    of the same bytes both succeed.
    """

    @abc.abstractmethod
    def put(self, sha256: str, chunks: Iterable[bytes], size: int) -> None:
        """Store the bytes yielded by ``chunks`` under ``sha256``.

        The caller has computed ``sha256`` and ``size``; the write is all-or-nothing, so a
        reader never sees a partial artifact.
        """

    def put_stream(self, chunks: Iterable[bytes], digest: Callable[[], str]) -> None:
        """Store bytes whose digest is known only after the last chunk: ``digest()`` names them then.

        Used while an artifact is still being serialized and hashed. As with :meth:`put`,
        nothing is visible until the whole artifact is; if the digest is stored already, the
        stored bytes are touched and the new ones dropped. This default spools ``chunks`` to a
        temporary file and then calls :meth:`put`; a store that can write under a provisional
        name and rename (a chunk key, a temporary file) overrides it to skip that copy.
        """
        with tempfile.TemporaryFile() as spool:
            size = sum(spool.write(chunk) for chunk in chunks)
            spool.seek(0)
            self.put(digest(), iter(lambda: spool.read(CHUNK_SIZE), b""), size)

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

    def collect_leftovers(self, older_than: datetime) -> int:
        """Clean up after puts and deletes that were killed half-way, last touched before ``older_than``.

        Returns how many leftovers were handled. Stores whose writes are transactions leave none
        (the default); a store that writes beside the final place (``file://``) removes its
        temporary files here, and puts back an artifact a killed delete had moved aside.
        """
        return 0

    def close(self) -> None:
        """Release connections or file handles. Calling it twice is harmless."""
