"""Small builders shared by this plugin's tests."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from superlite.stores.base import ArtifactRef, ComponentRecord

#: Names a real MongoDB server to run every test against as well as mongomock.
SERVER_ENV = "SUPERLITE_TEST_MONGODB_URI"


#: Why a real-server test skips here: no MongoDB server can run on these machines.
NO_SERVER = (
    f"no MongoDB server: set {SERVER_ENV} (see docs/mongodb.md: docker compose up mongodb) "
    f"to run this test against one; mongomock covers it here"
)


def server_uri() -> str:
    """The real server to test against, or skip.

    Never a failure, whatever ``SUPERLITE_REQUIRE_SERVICES`` says: no MongoDB server can run on
    the CI machines, and mongomock runs the same tests there.
    """
    uri = os.environ.get(SERVER_ENV)
    if not uri:
        pytest.skip(reason=NO_SERVER)
    return uri


def record(
    identifier: str = "m",
    version: int = 0,
    *,
    type_id: str = "model",
    artifacts: tuple[ArtifactRef, ...] = (),
    dependencies: tuple[str, ...] = (),
) -> ComponentRecord:
    """A record with a fresh uuid."""
    return ComponentRecord(
        uuid=str(uuid.uuid4()),
        type_id=type_id,
        identifier=identifier,
        version=version,
        class_path="superlite.components.object_model:ObjectModel",
        params={"threshold": 0.5},
        content_hash=hashlib.sha256(f"{identifier}:{version}".encode()).hexdigest(),
        artifacts=artifacts,
        dependencies=dependencies,
    )


def blob(data: bytes, name: str = "object") -> tuple[str, ArtifactRef]:
    """The SHA-256 of ``data`` and an artifact reference to it."""
    sha = hashlib.sha256(data).hexdigest()
    return sha, ArtifactRef(name, sha, len(data), "dill")


def pieces(data: bytes, size: int = 100_000) -> list[bytes]:
    """``data`` cut into pieces of ``size`` bytes, as the Datalayer streams it."""
    return [data[i : i + size] for i in range(0, len(data), size)]
