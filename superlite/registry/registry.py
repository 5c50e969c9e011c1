"""The Registry: component records, their versions and artifacts, removal and garbage collection.

It sits on the two stores and knows nothing of compute. :meth:`Registry.store` turns an encoded
component (whose children are already stored) into the next version, or returns the latest
version when the content is identical; :meth:`Registry.materialize` turns a record back into a
component. Every change is also written to the store's change feed (:meth:`Registry.changes`),
in the same transaction, for whoever follows it.
"""

from __future__ import annotations

import dataclasses
import uuid as uuid_module
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from superlite.common.arguments import check_version
from superlite.common.retry import retry
from superlite.common.uris import mask_uri
from superlite.components.class_path import import_component_class
from superlite.components.component import Component, Encoded, check_version_info
from superlite.components.reference import is_alias_reference, is_reference, parse_reference
from superlite.config import Settings
from superlite.errors import ArgumentTypeError, ConfigurationError, DependencyError, NotFoundError, VersionConflictError
from superlite.registry.artifacts import ArtifactPipeline
from superlite.registry.shared import Key, SharedArtifacts
from superlite.security.records import SIGNATURE_FIELD, RecordSigning
from superlite.serialization.hashing import canonical_json_hash
from superlite.serialization.serializers import get_serializer
from superlite.stores.base import ArtifactRef, ArtifactStore, ChangeEvent, ComponentRecord, MetadataStore

#: Files of an unfinished put or delete younger than this may still be in use: collections leave them.
LEFTOVER_AGE = timedelta(minutes=10)

#: How many times ``store`` tries when concurrent writers keep taking the version it chose.
APPLY_RETRIES = 50

#: Modules whose classes may always be built, whatever ``allowed_modules`` says.
ALWAYS_ALLOWED = ("superlite",)

#: Upper bound of the random pause before retry ``n`` is ``n`` times this (seconds).
APPLY_BACKOFF = 0.005


class Registry:
    """Stores, finds and removes component versions in a metadata store and an artifact store."""

    def __init__(self, settings: Settings, metadata: MetadataStore, artifacts: ArtifactStore) -> None:
        self.settings = settings
        self.metadata = metadata
        self.artifacts = artifacts
        self.pipeline = ArtifactPipeline(artifacts, settings.store.artifact_hash)
        self.shared = SharedArtifacts()
        security = settings.security
        self.signing = RecordSigning.from_settings(security.signing_key, security.verify_keys, security.require_signatures)

    # -- writing -------------------------------------------------------------------------------

    def store(self, encoded: Encoded, children: Mapping[str, Component], *, reuse_existing: bool = False) -> ComponentRecord:
        """Store ``encoded`` whose ``children`` (by field) are stored already; return its record.

        Identical content to the latest version returns that version (with ``reuse_existing``,
        to any version: the oldest such); anything else becomes the next version. Safe when
        several processes store the same identifier at once. ``encoded.info`` is stored with a
        new version and is not compared.
        """
        params = {**encoded.params, **{name: child.reference for name, child in children.items()}}
        dependencies = tuple(
            dict.fromkeys(
                [child.uuid for child in children.values() if child.uuid is not None]
                + [parse_reference(ref).uuid for ref in nested_references(encoded.params)]
            )
        )
        artifacts = tuple(self.pipeline.write(name, serializer, obj) for name, (serializer, obj) in encoded.artifacts.items())
        content_hash = canonical_json_hash(
            {
                "class_path": encoded.class_path,
                "params": params,
                "artifacts": {a.name: a.digest for a in artifacts},
                "dependencies": sorted(dependencies),
            }
        )
        record = self._insert_next_version(encoded, params, artifacts, dependencies, content_hash, reuse_existing)
        # Renew every artifact now that the record refers to it, or store it again if a
        # concurrent remove or collection freed it meanwhile (see collect_garbage). This
        # also repairs artifacts lost any other way when a component is applied again.
        for ref, (_, obj) in zip(artifacts, encoded.artifacts.values(), strict=True):
            self.pipeline.renew(ref, obj)
        return record

    def _insert_next_version(
        self,
        encoded: Encoded,
        params: dict[str, object],
        artifacts: tuple[Any, ...],
        dependencies: tuple[str, ...],
        content_hash: str,
        reuse_existing: bool,
    ) -> ComponentRecord:
        def attempt() -> ComponentRecord:
            if reuse_existing:
                same = self.metadata.find_by_content(encoded.type_id, encoded.identifier, content_hash)
                if same is not None:
                    return same
            latest = self.metadata.get(encoded.type_id, encoded.identifier)
            if latest is not None and latest.content_hash == content_hash:
                return latest
            record = self.signing.sign(ComponentRecord(
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
                info=encoded.info,
            ))
            self.metadata.insert(record)
            return record

        try:
            return retry(
                attempt,
                attempts=APPLY_RETRIES,
                retry_if=lambda exc: isinstance(exc, VersionConflictError),
                backoff=APPLY_BACKOFF,
            )
        except VersionConflictError:
            raise VersionConflictError(
                f"could not find a free version for {encoded.type_id} {encoded.identifier!r} after "
                f"{APPLY_RETRIES} attempts: too many concurrent applies; retry"
            ) from None

    # -- reading -------------------------------------------------------------------------------

    def record(
        self, type_id: str, identifier: str | None = None, version: int | None = None, uuid: str | None = None
    ) -> ComponentRecord:
        """The stored record of one component version (the latest unless ``version``/``uuid`` say)."""
        if uuid is not None:
            record = self.record_by_uuid(uuid)
            if record.type_id != type_id or identifier not in (None, record.identifier):
                raise NotFoundError(f"uuid {uuid} is {record.type_id} {record.identifier!r}, not {type_id} {identifier!r}")
            return record
        if identifier is None:
            raise ArgumentTypeError(f"a {type_id} is found by identifier or by uuid; give one of them")
        if version is not None:
            check_version(version)
        record = self.metadata.get(type_id, identifier, version)
        if record is None:
            raise self.not_found(type_id, identifier, version)
        return record

    def record_by_uuid(self, uuid: str) -> ComponentRecord:
        """The record with this uuid; :class:`NotFoundError` when there is none."""
        record = self.metadata.get_by_uuid(uuid)
        if record is None:
            raise NotFoundError(f"no component with uuid {uuid} in {mask_uri(self.settings.uri)}")
        return record

    def not_found(self, type_id: str, identifier: str, version: int | None) -> NotFoundError:
        """The error for a missing identifier or version, listing what does exist."""
        versions = self.metadata.versions(type_id, identifier)
        if versions:
            return NotFoundError(f"{type_id} {identifier!r} has no version {version}; versions: {versions}", versions)
        existing = self.metadata.identifiers(type_id)
        return NotFoundError(
            f"no {type_id} named {identifier!r}; existing {type_id}s: {', '.join(existing) or '(none)'}", existing
        )

    def show(self, type_id: str | None = None, identifier: str | None = None) -> Any:
        """``{type_id: [identifiers]}``; or one type's identifiers; or one identifier's versions."""
        if type_id is None:
            return {t: self.metadata.identifiers(t) for t in self.metadata.type_ids()}
        if identifier is None:
            return self.metadata.identifiers(type_id)
        versions = self.metadata.versions(type_id, identifier)
        if not versions:
            raise self.not_found(type_id, identifier, None)
        return versions

    def set_tags(self, type_id: str, identifier: str, version: int | None, tags: Mapping[str, str | None]) -> dict[str, str]:
        """Set tags of one version (the latest when ``version`` is None); a None value deletes a tag.

        Tags are version metadata: the content hash and the version number do not change.
        Returns the version's tags afterwards.
        """
        check_version_info({"tags": {k: v for k, v in tags.items() if v is not None}}, f"{type_id} {identifier!r}")
        if any(not isinstance(name, str) or not name for name in tags):
            raise ArgumentTypeError(f"tag names are non-empty str, not {sorted(map(repr, tags))}")
        record = self.record(type_id, identifier, version=version)
        current = {**record.info.get("tags", {})}  # type: ignore[dict-item]
        for name, value in tags.items():
            if value is None:
                current.pop(name, None)
            else:
                current[name] = value
        info = {key: value for key, value in record.info.items() if key != "tags"}
        self.metadata.update_info(record.uuid, {**info, "tags": current} if current else info)
        return current

    def search(self, type_id: str, tags: Mapping[str, str] | None = None) -> list[ComponentRecord]:
        """The versions of ``type_id`` whose tags include every one of ``tags``, by identifier then version."""
        wanted = dict(tags or {})
        found = []
        for identifier in self.metadata.identifiers(type_id):
            for version in self.metadata.versions(type_id, identifier):
                record = self.metadata.get(type_id, identifier, version)
                have = record.info.get("tags") or {} if record is not None else {}
                if record is not None and all(have.get(k) == v for k, v in wanted.items()):  # type: ignore[union-attr]
                    found.append(record)
        return found

    def materialize(self, record: ComponentRecord, bind: Callable[[str], Component]) -> Component:
        """Rebuild the component ``record`` describes, its artifacts read and verified.

        ``bind(reference)`` gives what a child reference becomes (a proxy, for models). The
        record's signature is checked first, then its class (see ``docs/security.md``): nothing
        is imported or unpickled for a record that fails either check.
        """
        self.signing.check(record)
        allowed = self.settings.security.allowed_modules
        cls = import_component_class(record.class_path, Component, None if allowed is None else (*ALWAYS_ALLOWED, *allowed))
        kwargs: dict[str, Any] = {}
        for name, value in record.params.items():
            kwargs[name] = _bind_nested(value, bind)
        held: list[Key] = []
        try:
            for artifact in record.artifacts:
                kwargs[artifact.name] = self._read_artifact(record, artifact, held)
            fields = {f.name for f in dataclasses.fields(cls) if f.metadata.get("info")}
            kwargs.update({name: value for name, value in record.info.items() if name in fields})
            component: Component = cls(record.identifier, **kwargs)
        except BaseException:
            for key in held:
                self.shared.release(key)
            raise
        self.shared.hold(component, held)
        component.version, component.uuid = record.version, record.uuid
        return component

    def _read_artifact(self, record: ComponentRecord, artifact: ArtifactRef, held: list[Key]) -> object:
        """``artifact``'s object: shared with other components of this process when its serializer allows."""
        if not get_serializer(artifact.serializer).shareable:
            return self.pipeline.read(record, artifact)
        key = (artifact.serializer, artifact.digest)
        obj = self.shared.acquire(key, lambda: self.pipeline.read(record, artifact))
        held.append(key)
        return obj

    def sign_records(self, *, unsigned: bool = False) -> dict[str, list[str]]:
        """Sign again, with the signing key, every record whose signature verifies with another accepted key.

        This is the middle step of a key rotation (see ``docs/security.md``). With ``unsigned``,
        records without a signature are signed too: do that only for a database whose content
        you trust. Records whose signature does not verify are left as they are. Returns
        ``{"signed": [...], "kept": [...], "unsigned": [...], "invalid": [...]}`` of
        ``type_id identifier vN`` names.
        """
        signer = self.signing.signer
        if signer is None:
            raise ConfigurationError("signing records needs a signing_key (or $SUPERLITE_SIGNING_KEY)")
        report: dict[str, list[str]] = {"signed": [], "kept": [], "unsigned": [], "invalid": []}
        for record in self._all_records():
            name = f"{record.type_id} {record.identifier} v{record.version}"
            stored, key = record.info.get(SIGNATURE_FIELD), self.signing.verifies(record)
            if key == signer.key_id:
                report["kept"].append(name)
            elif (stored is None and not unsigned) or (stored is not None and key is None):
                report["unsigned" if stored is None else "invalid"].append(name)
            else:
                self.metadata.update_info(record.uuid, self.signing.sign(record).info)
                report["signed"].append(name)
        return report

    def _all_records(self) -> list[ComponentRecord]:
        return [
            record
            for type_id in self.metadata.type_ids()
            for identifier in self.metadata.identifiers(type_id)
            for version in self.metadata.versions(type_id, identifier)
            if (record := self.metadata.get(type_id, identifier, version)) is not None
        ]

    def changes(self, since: int = 0, limit: int = 1000) -> list[ChangeEvent]:
        """Change events after ``since``, oldest first (see :class:`~superlite.stores.base.ChangeEvent`)."""
        return self.metadata.changes(since, limit)

    # -- removing ------------------------------------------------------------------------------

    def remove(self, type_id: str, identifier: str, version: int | None = None, force: bool = False) -> list[ComponentRecord]:
        """Remove one version (or every version) and free artifacts nobody uses any more.

        Refuses with :class:`DependencyError` while another component depends on it, unless
        ``force``. Returns the removed records.
        """
        if version is None:
            records = [self.record(type_id, identifier, v) for v in self.show(type_id, identifier)]
        else:
            records = [self.record(type_id, identifier, check_version(version))]
        uuids = [r.uuid for r in records]
        dependents = self.metadata.dependents(uuids)
        if dependents and not force:
            names = ", ".join(f"{d.type_id} {d.identifier!r} v{d.version}" for d in dependents)
            raise DependencyError(f"cannot remove {type_id} {identifier!r}: {names} depend on it; remove those first or pass force=True")
        self.metadata.delete(uuids)
        self._free_artifacts({a.digest for r in records for a in r.artifacts}, self._cutoff())
        return records

    def _cutoff(self) -> datetime:
        """The instant before which an artifact must be unused to be freed: now minus the grace."""
        return datetime.now(timezone.utc) - timedelta(seconds=self.settings.store.gc_grace)

    def _free_artifacts(self, candidates: set[str], cutoff: datetime) -> set[str]:
        """Delete the candidates no record refers to and nobody used since ``cutoff``; return those deleted.

        ``cutoff`` must be taken before the references are counted (see :meth:`collect_garbage`).
        """
        freed: set[str] = set()
        for sha256 in candidates:
            if self.metadata.artifact_references(sha256) == 0 and self.artifacts.delete(sha256, unused_since=cutoff):
                freed.add(sha256)
        return freed

    def collect_garbage(self) -> set[str]:
        """Delete stored artifacts that no record refers to; return their SHA-256.

        Only artifacts unused for ``gc_grace`` seconds (a store option, default 0) are deleted,
        and what killed puts and deletes left in the artifact store (older than
        :data:`LEFTOVER_AGE`) is cleaned up first (:meth:`ArtifactStore.collect_leftovers`).
        Freeing an artifact (here and in :meth:`remove`) is safe against a concurrent
        :meth:`store` of the same bytes without any lock spanning the two stores, which may be
        different systems (a SQL database and a directory, MongoDB and GridFS):

        * every artifact carries the time it was last put or touched; ``store`` touches each
          artifact (or puts it back if it is gone) once before inserting its record and once
          after the insert has committed;
        * the collector reads the clock (``cutoff`` = now - grace) *before* it counts
          references, and deletes with :meth:`ArtifactStore.delete` ``unused_since=cutoff``,
          which compares the time and deletes atomically within the artifact store.

        So if a collector counted no reference before the record was inserted, its cutoff is
        older than the touch that follows the insert: the delete either ran before that touch
        (which then puts the bytes back) or finds the artifact used and keeps it. A collector
        that counts after the insert sees the reference. The grace only needs to cover the
        clock difference between machines, and spares uploads still on their way to a record
        from being deleted and uploaded again.
        """
        cutoff = self._cutoff()
        self.artifacts.collect_leftovers(min(cutoff, datetime.now(timezone.utc) - LEFTOVER_AGE))
        orphans = self.artifacts.list() - self.metadata.referenced_artifacts()
        return self._free_artifacts(orphans, cutoff)

    def close(self) -> None:
        """Release both stores' connections."""
        self.artifacts.close()
        self.metadata.close()


def nested_references(value: object) -> list[str]:
    """Pinned reference strings anywhere in a parameter value (lists and dicts of children)."""
    if is_reference(value):
        return [value]  # type: ignore[list-item]
    if isinstance(value, list):
        return [ref for item in value for ref in nested_references(item)]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in nested_references(item)]
    return []


def _bind_nested(value: Any, bind: Callable[[str], Component]) -> Any:
    if is_reference(value) or is_alias_reference(value):
        return bind(value)
    if isinstance(value, list):
        return [_bind_nested(item, bind) for item in value]
    if isinstance(value, dict):
        return {key: _bind_nested(item, bind) for key, item in value.items()}
    return value
