"""How a :class:`~superlite.stores.base.ComponentRecord` is laid out as one MongoDB document.

A record is a single document: its artifact references and the uuids it depends on are
embedded arrays, not rows of other collections. MongoDB writes one document atomically on every
deployment (standalone, replica set, sharded, mongomock), so a reader sees a whole component
or none of it, with no transaction needed. Reference counts and dependents are queries over
those arrays, served by multikey indexes.

Parameters are JSON values, as in every superlite store (tuples come back as lists), so a
record reads back the same from MongoDB as from SQL. ``created_at`` is a BSON date (readable in
any MongoDB tool, millisecond precision) plus its microseconds, so it reads back exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from superlite.common.json_values import json_value
from superlite.errors import StoreDataError
from superlite.stores.base import ArtifactRef, ComponentRecord


def to_document(record: ComponentRecord) -> dict[str, Any]:
    """The document stored for ``record`` (``_id`` is its uuid).

    Raises :class:`~superlite.errors.SerializationError` when a parameter is not a JSON value.
    """
    created_at = record.created_at or datetime.now(timezone.utc)
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=timezone.utc)
    return {
        "_id": record.uuid,
        "type_id": record.type_id,
        "identifier": record.identifier,
        "version": record.version,
        "class_path": record.class_path,
        "params": _json_values(record),
        "content_hash": record.content_hash,
        "artifacts": [
            {"name": a.name, "sha256": a.digest, "size": a.size, "serializer": a.serializer}
            for a in record.artifacts
        ],
        "dependencies": list(record.dependencies),
        "created_at": created_at,
        "created_at_us": created_at.microsecond,
        **({"info": json_value(dict(record.info), f"cannot store the metadata of {record.uuid}")} if record.info else {}),
    }


def _json_values(record: ComponentRecord) -> dict[str, Any]:
    where = f"cannot store {record.type_id} {record.identifier!r}: its parameters"
    return json_value(dict(record.params), where)  # type: ignore[return-value]


def from_document(document: Mapping[str, Any]) -> ComponentRecord:
    """The record a stored document describes; a damaged document is a :class:`StoreDataError` naming it."""
    try:
        return _record(document)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreDataError(
            f"the MongoDB record document {document.get('_id')!r} is damaged ({type(exc).__name__}: {exc}); "
            f"it was left as it is: repair or delete it in the components collection"
        ) from exc


def _record(document: Mapping[str, Any]) -> ComponentRecord:
    created_at = document.get("created_at")
    if created_at is not None:
        microsecond = document.get("created_at_us", created_at.microsecond)
        created_at = created_at.astimezone(timezone.utc).replace(microsecond=microsecond)
    return ComponentRecord(
        uuid=document["_id"],
        type_id=document["type_id"],
        identifier=document["identifier"],
        version=document["version"],
        class_path=document["class_path"],
        params=document.get("params") or {},
        content_hash=document["content_hash"],
        artifacts=tuple(
            ArtifactRef(name=a["name"], digest=a["sha256"], size=a["size"], serializer=a["serializer"])
            for a in document.get("artifacts", ())
        ),
        dependencies=tuple(document.get("dependencies", ())),
        created_at=created_at,
        info=document.get("info") or {},
    )
