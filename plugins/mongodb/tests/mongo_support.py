"""Small builders shared by this plugin's tests."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

import pytest
from superlite_mongodb.listeners import MongoListenerSource

from superlite.stores.base import ArtifactRef, ComponentRecord
from superlite.testing.listener_contract import TABLE

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


class MongoRows:
    """:class:`~superlite.testing.listener_contract.AppRows` through a plain pymongo (mongomock) client."""

    source_class = MongoListenerSource

    def __init__(self, database: Any) -> None:
        self.database = database

    def insert(self, *rows: dict[str, Any]) -> None:
        self.database[TABLE].insert_many([{"_id": row["id"], "text": row["text"]} for row in rows])

    def update(self, row_id: int, text: str) -> None:
        self.database[TABLE].update_one({"_id": row_id}, {"$set": {"text": text}})

    def delete(self, row_id: int) -> None:
        self.database[TABLE].delete_one({"_id": row_id})

    def output_column(self, listener: str, column: str) -> list[Any]:
        field = "_id" if column == "source_id" else column
        return [doc[field] for doc in self.database[f"_outputs__{listener}"].find()]

    def has_outputs_table(self, listener: str) -> bool:
        return f"_outputs__{listener}" in self.database.list_collection_names()

    def without_text(self, text: str) -> Any:
        return {"text": {"$ne": text}}
