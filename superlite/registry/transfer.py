"""Export, import and copy of component versions between databases, through a portable archive.

An archive (``.slz``) is an uncompressed tar file: ``manifest.json`` (the format version and
every record, children before the components that refer to them) and ``artifacts/<digest>``,
one file per artifact. Importing verifies every artifact's digest and size, and checks every
record against the target database, before it writes anything; records keep their uuids and
version numbers. A record already there with the same uuid and content is skipped (importing
twice changes nothing); a uuid or a version taken by other content is refused, naming it. If a
write fails midway, the records written so far are deleted again (their artifacts become
garbage for ``collect_garbage``).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from superlite.errors import IntegrityError, InvalidArgumentError, NotFoundError, VersionConflictError
from superlite.registry.registry import Registry
from superlite.serialization.hashing import ContentHasher, split_digest
from superlite.stores.base import ArtifactRef, ComponentRecord

#: The archive format this release writes and reads.
FORMAT = 1

#: Bytes read at a time when artifacts are copied and hashed.
CHUNK = 1 << 20

MANIFEST = "manifest.json"


def export_archive(registry: Registry, records: list[ComponentRecord], path: Path) -> list[ComponentRecord]:
    """Write ``records`` and everything they depend on to the archive ``path``; return what was written."""
    ordered = _with_dependencies(registry, records)
    manifest = {"format": FORMAT, "records": [_record_view(r) for r in ordered]}
    with tarfile.open(path, "w") as archive:
        _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        written: set[str] = set()
        for record in ordered:
            for ref in record.artifacts:
                if ref.digest in written:
                    continue
                info = tarfile.TarInfo(f"artifacts/{ref.digest}")
                info.size = ref.size
                with registry.artifacts.open(ref.digest) as stream:
                    archive.addfile(info, stream)
                written.add(ref.digest)
    return ordered


def import_archive(registry: Registry, path: Path) -> list[ComponentRecord]:
    """Check everything in the archive ``path``, then store it; return the records newly stored."""
    with tarfile.open(path, "r") as archive:
        records = _read_manifest(archive, path)
        refs = {ref.digest: ref for record in records for ref in record.artifacts}
        for ref in refs.values():
            _verify(archive, ref, path)
        in_archive = {record.uuid for record in records}
        new = [record for record in records if _is_new(registry, record, in_archive)]
        _put_missing(registry, archive, refs.values(), path)
        stored: list[ComponentRecord] = []
        try:
            for record in new:
                registry.metadata.insert(record)
                stored.append(record)
            # As apply does: an artifact freed by a concurrent collection before its record
            # existed is put back now that the record refers to it.
            _put_missing(registry, archive, refs.values(), path)
        except BaseException:
            registry.metadata.delete([r.uuid for r in stored])
            raise
    return stored


def _put_missing(registry: Registry, archive: tarfile.TarFile, refs: Iterable[ArtifactRef], path: Path) -> None:
    for ref in refs:
        if not registry.artifacts.touch(ref.digest):
            registry.artifacts.put(ref.digest, _chunks(_member(archive, ref, path)), ref.size)


def _with_dependencies(registry: Registry, records: list[ComponentRecord]) -> list[ComponentRecord]:
    """``records`` and their dependencies, each once, every dependency before its dependents."""
    ordered: list[ComponentRecord] = []
    seen: set[str] = set()

    def visit(record: ComponentRecord) -> None:
        if record.uuid in seen:
            return
        seen.add(record.uuid)
        for uuid in record.dependencies:
            visit(registry.record_by_uuid(uuid))
        ordered.append(record)

    for record in records:
        visit(record)
    return ordered


def _record_view(record: ComponentRecord) -> dict[str, Any]:
    view = record.to_dict()
    view["artifacts"] = [
        {"name": a.name, "digest": a.digest, "size": a.size, "serializer": a.serializer} for a in record.artifacts
    ]
    return view


def _read_manifest(archive: tarfile.TarFile, path: Path) -> list[ComponentRecord]:
    try:
        member = archive.extractfile(MANIFEST)
        manifest = json.loads(member.read()) if member is not None else None
    except (KeyError, ValueError) as exc:
        raise IntegrityError(f"{path} is not a superlite archive: no readable {MANIFEST} ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise IntegrityError(f"{path}: archive format {found!r} is not {FORMAT}, the one this release reads")
    try:
        return [_record(view) for view in manifest["records"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"{path}: a record in {MANIFEST} is malformed: {exc!r}") from None


def _record(view: dict[str, Any]) -> ComponentRecord:
    created = view.get("created_at")
    return ComponentRecord(
        uuid=str(view["uuid"]),
        type_id=str(view["type_id"]),
        identifier=str(view["identifier"]),
        version=int(view["version"]),
        class_path=str(view["class_path"]),
        params=dict(view["params"]),
        content_hash=str(view["content_hash"]),
        artifacts=tuple(_artifact(a) for a in view["artifacts"]),
        dependencies=tuple(view.get("dependencies", ())),
        created_at=datetime.fromisoformat(created) if created else None,
        info=dict(view.get("info") or {}),
    )


def _artifact(view: dict[str, Any]) -> ArtifactRef:
    digest = str(view.get("digest", view.get("sha256")))  # archives before BLAKE3 say "sha256"
    split_digest(digest)
    return ArtifactRef(view["name"], digest, int(view["size"]), view["serializer"])


def _member(archive: tarfile.TarFile, ref: ArtifactRef, path: Path) -> IO[bytes]:
    try:
        stream = archive.extractfile(f"artifacts/{ref.digest}")
    except KeyError:
        stream = None
    if stream is None:
        raise IntegrityError(f"{path}: artifact {ref.digest} ({ref.name}) is missing from the archive")
    return stream


def _verify(archive: tarfile.TarFile, ref: ArtifactRef, path: Path) -> None:
    hasher = ContentHasher(split_digest(ref.digest)[0])
    for chunk in _chunks(_member(archive, ref, path)):
        hasher.update(chunk)
    if hasher.size != ref.size or hasher.digest != ref.digest:
        raise IntegrityError(
            f"{path}: artifact {ref.name} is damaged ({hasher.size} bytes, {hasher.digest}; the record says "
            f"{ref.size} bytes, {ref.digest}); nothing was imported"
        )


def _is_new(registry: Registry, record: ComponentRecord, in_archive: set[str]) -> bool:
    """False when the same record is stored already; raises when its uuid or version is taken by other content."""
    existing = registry.metadata.get_by_uuid(record.uuid)
    if existing is not None:
        if existing.content_hash != record.content_hash:
            raise VersionConflictError(
                f"uuid {record.uuid} is taken in the target by {existing.type_id} {existing.identifier!r} "
                f"v{existing.version} with other content; nothing was imported"
            )
        return False
    taken = registry.metadata.get(record.type_id, record.identifier, record.version)
    if taken is not None:
        raise VersionConflictError(
            f"{record.type_id} {record.identifier!r} version {record.version} already exists in the target with "
            f"another uuid ({taken.uuid}); nothing was imported. Remove it there, or import into another database"
        )
    for uuid in record.dependencies:
        if uuid not in in_archive and registry.metadata.get_by_uuid(uuid) is None:
            raise NotFoundError(f"{record.type_id} {record.identifier!r} depends on {uuid}, which is neither in the archive nor stored")
    return True


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def check_archive_path(path: object) -> Path:
    """``path`` as a Path (InvalidArgumentError for anything else)."""
    if not isinstance(path, (str, Path)) or not str(path):
        raise InvalidArgumentError(f"an archive path is a non-empty str or Path, not {path!r}")
    return Path(path)
