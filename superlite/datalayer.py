"""The Datalayer: one object that stores, versions, loads and runs components.

It owns a metadata store, an artifact store and a compute backend, chosen from its
:class:`~superlite.config.Settings` when :func:`connect` builds it. ``apply`` and ``load``
pass through each layer once: components -> serialization -> stores, and back.
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid as uuid_module
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import datetime, timezone
from functools import partial
from typing import IO, Any

from superlite.components.class_path import import_class_path
from superlite.components.component import Component, Encoded
from superlite.components.reference import is_reference, parse_reference
from superlite.components.remote import RemoteModel
from superlite.compute.base import Compute, Task
from superlite.compute.cache import ModelCache, measure_size
from superlite.compute.registry import open_compute
from superlite.config import Settings, mask_uri
from superlite.errors import (
    DependencyError,
    NotFoundError,
    VersionConflictError,
)
from superlite.serialization.hashing import (
    HashingWriter,
    canonical_json_hash,
    copy_verified,
    iter_chunks,
)
from superlite.serialization.serializers import get_serializer
from superlite.stores.base import (
    CHUNK_SIZE,
    ArtifactRef,
    ArtifactStore,
    ComponentRecord,
    MetadataStore,
)
from superlite.stores.registry import open_artifact_store, open_database

#: Artifacts up to this size are serialized in memory; larger ones spill to a temporary file.
SPOOL_BYTES = 64 * 1024 * 1024

#: Loaded models kept per process unless ``cache_items`` says otherwise (``cache_mb`` bounds bytes).
DEFAULT_CACHE_ITEMS = 32

#: How many times ``apply`` retries when a concurrent writer took the version it chose.
APPLY_RETRIES = 50


class Datalayer:
    """Stores, versions, loads and runs components. Build one with :func:`superlite.connect`.

    Use it as a context manager, or call :meth:`close`, to release connections and threads.
    """

    def __init__(self, settings: Settings, metadata: MetadataStore, artifacts: ArtifactStore) -> None:
        self.settings = settings
        self.metadata = metadata
        self.artifacts = artifacts
        self.models: ModelCache[Any] = self._model_cache(settings)
        self.compute_backend: Compute = open_compute(settings, self)

    def _model_cache(self, settings: Settings) -> ModelCache[Any]:
        cache_mb = settings.options.get("cache_mb")
        cache_items = settings.options.get("cache_items", DEFAULT_CACHE_ITEMS)
        return ModelCache(
            self._load_for_cache,
            max_bytes=int(float(cache_mb) * 2**20) if cache_mb is not None else None,  # type: ignore[arg-type]
            max_items=int(cache_items) if cache_items is not None else None,  # type: ignore[call-overload]
            measure=partial(measure_size, stop_types=(Datalayer,)),
        )

    # -- apply ---------------------------------------------------------------------------------

    def apply(self, component: Component) -> Component:
        """Store ``component`` (its children first) and return it with ``version`` and ``uuid`` set.

        Identical content to the latest version creates nothing and returns that version;
        changed content becomes the next version. Safe to call from several processes at once.
        """
        if not isinstance(component, Component):
            raise TypeError(f"apply takes a superlite Component (e.g. ObjectModel), not {type(component).__qualname__}")
        component.pre_create(self)
        encoded = component.encode()
        if encoded.reference is not None:
            self._record_for(parse_reference(encoded.reference).uuid)
        else:
            record = self._store(encoded)
            component.version, component.uuid = record.version, record.uuid
        component.db = self
        return component

    def _store(self, encoded: Encoded) -> ComponentRecord:
        params = dict(encoded.params)
        dependencies = []
        for name, child in encoded.children.items():
            applied = self.apply(child)
            params[name] = applied.reference
            dependencies.append(applied.uuid)
        with ExitStack() as spools:
            staged = [self._stage_artifact(name, serializer, obj, spools) for name, (serializer, obj) in encoded.artifacts.items()]
            for artifact, spool in staged:
                self._upload(artifact, spool)
            artifacts = tuple(artifact for artifact, _ in staged)
            content_hash = canonical_json_hash(
                {
                    "class_path": encoded.class_path,
                    "params": params,
                    "artifacts": {a.name: a.sha256 for a in artifacts},
                    "dependencies": sorted(dependencies),
                }
            )
            record = self._insert_next_version(encoded, params, artifacts, tuple(dependencies), content_hash)
            # A concurrent remove may have freed bytes this record now refers to (they existed, so
            # they were not uploaded again): put them back. Re-applying also repairs lost artifacts.
            for artifact, spool in staged:
                self._upload(artifact, spool)
        return record

    def _stage_artifact(self, name: str, serializer_name: str, obj: object, spools: ExitStack) -> tuple[ArtifactRef, IO[bytes]]:
        spool: IO[bytes] = spools.enter_context(tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES))  # type: ignore[arg-type]
        writer = HashingWriter(spool)  # type: ignore[arg-type]
        get_serializer(serializer_name).dump(obj, writer)  # type: ignore[arg-type]
        return ArtifactRef(name, writer.sha256, writer.size, serializer_name), spool

    def _upload(self, artifact: ArtifactRef, spool: IO[bytes]) -> None:
        if not self.artifacts.exists(artifact.sha256):
            spool.seek(0)
            self.artifacts.put(artifact.sha256, iter_chunks(spool, CHUNK_SIZE), artifact.size)  # type: ignore[arg-type]

    def _insert_next_version(
        self,
        encoded: Encoded,
        params: dict[str, object],
        artifacts: tuple[ArtifactRef, ...],
        dependencies: tuple[str, ...],
        content_hash: str,
    ) -> ComponentRecord:
        for attempt in range(APPLY_RETRIES):
            latest = self.metadata.get(encoded.type_id, encoded.identifier)
            if latest is not None and latest.content_hash == content_hash:
                return latest
            record = ComponentRecord(
                uuid=str(uuid_module.uuid4()),
                type_id=encoded.type_id,
                identifier=encoded.identifier,
                version=0 if latest is None else latest.version + 1,
                class_path=encoded.class_path,
                params=params,
                content_hash=content_hash,
                artifacts=artifacts,
                dependencies=dependencies,
                created_at=datetime.now(timezone.utc),
            )
            try:
                self.metadata.insert(record)
                return record
            except VersionConflictError:
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise VersionConflictError(
            f"could not find a free version for {encoded.type_id} {encoded.identifier!r} after "
            f"{APPLY_RETRIES} attempts: too many concurrent applies; retry"
        )

    # -- load ----------------------------------------------------------------------------------

    def load(
        self,
        type_id: str,
        identifier: str | None = None,
        version: int | None = None,
        uuid: str | None = None,
        *,
        lazy: bool = True,
    ) -> Component:
        """Load a stored component: the latest version, or one ``version``, or one ``uuid``.

        Models come back as :class:`RemoteModel` proxies that read only the record; their
        artifacts are fetched when the original model is first needed. ``lazy=False`` returns
        the original component with its artifacts loaded and verified.
        """
        record = self.record(type_id, identifier, version=version, uuid=uuid)
        if lazy and record.type_id == RemoteModel.type_id:
            return RemoteModel(record.identifier, uuid=record.uuid, version=record.version, db=self)
        return self._materialize(record)

    def record(self, type_id: str, identifier: str | None = None, version: int | None = None, uuid: str | None = None) -> ComponentRecord:
        """The stored record of one component version (the latest unless ``version``/``uuid`` say)."""
        if uuid is not None:
            record = self._record_for(uuid)
            if record.type_id != type_id or identifier not in (None, record.identifier):
                raise NotFoundError(f"uuid {uuid} is {record.type_id} {record.identifier!r}, not {type_id} {identifier!r}")
            return record
        if identifier is None:
            raise TypeError("load needs an identifier or a uuid")
        record = self.metadata.get(type_id, identifier, version)
        if record is None:
            raise self._not_found(type_id, identifier, version)
        return record

    def _record_for(self, uuid: str) -> ComponentRecord:
        record = self.metadata.get_by_uuid(uuid)
        if record is None:
            raise NotFoundError(f"no component with uuid {uuid} in {mask_uri(self.settings.uri)}")
        return record

    def _not_found(self, type_id: str, identifier: str, version: int | None) -> NotFoundError:
        versions = self.metadata.versions(type_id, identifier)
        if versions:
            return NotFoundError(f"{type_id} {identifier!r} has no version {version}; versions: {versions}", versions)
        existing = self.metadata.identifiers(type_id)
        return NotFoundError(
            f"no {type_id} named {identifier!r}; existing {type_id}s: {', '.join(existing) or '(none)'}", existing
        )

    def _materialize(self, record: ComponentRecord) -> Component:
        cls = import_class_path(record.class_path)
        kwargs: dict[str, Any] = {}
        for name, value in record.params.items():
            kwargs[name] = self._load_reference(value) if is_reference(value) else value
        for artifact in record.artifacts:
            kwargs[artifact.name] = self._read_artifact(record, artifact)
        component = cls(record.identifier, **kwargs)
        component.version, component.uuid, component.db = record.version, record.uuid, self
        return component

    def _load_reference(self, value: str) -> Component:
        reference = parse_reference(value)
        return self.load(reference.type_id, uuid=reference.uuid)

    def _read_artifact(self, record: ComponentRecord, artifact: ArtifactRef) -> object:
        what = f"{artifact.name!r} of {record.type_id} {record.identifier!r} version {record.version} (sha256 {artifact.sha256})"
        with _scratch_file(artifact.size) as spool:
            try:
                source = self.artifacts.open(artifact.sha256)
            except NotFoundError as exc:
                raise NotFoundError(f"artifact {what} is missing from the artifact store") from exc
            with source:
                copy_verified(source, spool, artifact.sha256, what, CHUNK_SIZE)  # type: ignore[arg-type]
            spool.seek(0)
            return get_serializer(artifact.serializer).load(spool)  # type: ignore[arg-type]

    def _load_for_cache(self, uuid: str) -> tuple[Any, int]:
        record = self._record_for(uuid)
        return self._materialize(record), sum(a.size for a in record.artifacts)

    # -- show / remove -------------------------------------------------------------------------

    def show(self, type_id: str | None = None, identifier: str | None = None) -> Any:
        """``{type_id: [identifiers]}``; or one type's identifiers; or one identifier's versions."""
        if type_id is None:
            return {t: self.metadata.identifiers(t) for t in self.metadata.type_ids()}
        if identifier is None:
            return self.metadata.identifiers(type_id)
        versions = self.metadata.versions(type_id, identifier)
        if not versions:
            raise self._not_found(type_id, identifier, None)
        return versions

    def remove(self, type_id: str, identifier: str, version: int | None = None, force: bool = False) -> list[ComponentRecord]:
        """Remove one version (or every version) and free artifacts nobody uses any more.

        Refuses with :class:`DependencyError` while another component depends on it, unless
        ``force``. Never prompts. Returns the removed records.
        """
        if version is None:
            records = [self.record(type_id, identifier, v) for v in self.show(type_id, identifier)]
        else:
            records = [self.record(type_id, identifier, version)]
        uuids = [r.uuid for r in records]
        dependents = self.metadata.dependents(uuids)
        if dependents and not force:
            names = ", ".join(f"{d.type_id} {d.identifier!r} v{d.version}" for d in dependents)
            raise DependencyError(f"cannot remove {type_id} {identifier!r}: {names} depend on it; remove those first or pass force=True")
        self.metadata.delete(uuids)
        for uuid in uuids:
            self.models.discard(uuid)
        self._free_artifacts({a.sha256 for r in records for a in r.artifacts})
        return records

    def _free_artifacts(self, candidates: set[str]) -> None:
        for sha256 in candidates:
            if self.metadata.artifact_references(sha256) == 0:
                self.artifacts.delete(sha256)

    def collect_garbage(self) -> set[str]:
        """Delete stored artifacts that no record refers to (left by an interrupted apply/remove)."""
        orphans = self.artifacts.list() - self.metadata.referenced_artifacts()
        self._free_artifacts(orphans)
        return orphans

    # -- compute -------------------------------------------------------------------------------

    def compute(
        self,
        reference: str,
        method: str,
        args: Sequence[object] = (),
        kwargs: dict[str, object] | None = None,
        *,
        wait: bool = True,
        timeout: float | None = None,
    ) -> Any:
        """Run ``method(*args, **kwargs)`` of the component ``reference`` pins, on this Datalayer's compute.

        Returns the result, or with ``wait=False`` a handle whose ``.result(timeout)`` waits for it.
        """
        handle = self.compute_backend.submit(Task(reference, method, tuple(args), dict(kwargs or {})))
        return handle.result(timeout) if wait else handle

    def compute_batches(self, reference: str, method: str, items: list[Any], *, chunk_size: int | None = None, timeout: float | None = None) -> list[Any]:
        """Split ``items`` into chunks, run ``method(chunk)`` on each in parallel, and join in order."""
        size = chunk_size or max(1, -(-len(items) // self.compute_backend.parallelism))
        tasks = [Task(reference, method, (items[i : i + size],)) for i in range(0, len(items), size)]
        results: list[Any] = []
        for handle in self.compute_backend.submit_many(tasks):
            results.extend(handle.result(timeout))  # type: ignore[arg-type]
        return results

    def execute(self, task: Task) -> Any:
        """Run ``task`` in this process, with the model taken from the uuid-keyed model cache."""
        model = self.models.get(parse_reference(task.reference).uuid)
        return getattr(model, task.method)(*task.args, **task.kwargs)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop compute and release store connections."""
        self.compute_backend.close()
        self.artifacts.close()
        self.metadata.close()

    def __enter__(self) -> Datalayer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Datalayer(uri={mask_uri(self.settings.uri)!r}, compute={self.compute_backend.name!r})"


def _scratch_file(size: int) -> IO[bytes]:
    """A temporary file for ``size`` bytes: in memory when small, straight on disk when large."""
    if size > SPOOL_BYTES:
        return tempfile.TemporaryFile()
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # type: ignore[return-value]


def connect(uri: str | None = None, *, artifacts: str | None = None, broker: str | None = None, **options: object) -> Datalayer:
    """Open a :class:`Datalayer`.

    ``uri`` names the database (default ``$SUPERLITE_URI``, else a SQLite file under
    ``./.superlite/``); ``artifacts`` a separate artifact store such as ``file:///path``
    (default: the same database); ``broker`` a Celery broker such as ``redis://…``
    (default ``$SUPERLITE_BROKER``, else in-process compute). With a broker, ``queue``,
    ``timeout``, ``parallelism``, ``result_backend``, ``result_expires`` and
    ``visibility_timeout`` tune remote compute (see ``docs/workers.md``).
    """
    return open_datalayer(Settings.resolve(uri, artifacts=artifacts, broker=broker, **options))


def open_datalayer(settings: Settings) -> Datalayer:
    """Open a :class:`Datalayer` from complete ``settings`` (no environment fallback).

    A worker uses it to open its own, in-process Datalayer: ``connect(broker=None)`` would fall
    back to ``$SUPERLITE_BROKER``, and a worker must never dispatch to itself.
    """
    bundle = open_database(settings)
    artifact_store = bundle.artifacts
    if settings.artifacts:
        bundle.artifacts.close()
        artifact_store = open_artifact_store(settings.artifacts, settings)
    try:
        return Datalayer(settings, bundle.metadata, artifact_store)
    except BaseException:
        bundle.metadata.close()
        artifact_store.close()
        raise

