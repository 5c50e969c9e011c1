"""The artifact pipeline: small artifacts held in memory, large ones streamed while serialized.

``MEMORY_BYTES`` is lowered to 1 MiB here so that a few MiB exercise the streaming path (an
uploader thread feeding ``put_stream``) on every SQL backend and the ``file://`` store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import superlite
from superlite import ObjectModel
from superlite.registry import artifacts as pipeline_module
from superlite.serialization.hashing import digest_of
from superlite.stores.base import ArtifactStore
from superlite.testing.fixtures import random_bytes


class Weights:
    """A callable model carrying ``size`` bytes of weights."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.weights = random_bytes(size, seed=seed)

    def __call__(self, x: int) -> int:
        return len(self.weights) + x


class Unpicklable:
    """Breaks pickling, after the weights before it were written."""

    def __reduce__(self) -> tuple[object, ...]:
        raise RuntimeError("cannot pickle this part")


@pytest.fixture(autouse=True)
def small_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline_module, "MEMORY_BYTES", 1 << 20)


@pytest.fixture(params=["sql", "file"])
def stores(request: pytest.FixtureRequest, db_uri: str, tmp_path: Path) -> Iterator[dict[str, object]]:
    yield {"uri": db_uri, "artifacts": f"file://{tmp_path / 'artifacts'}" if request.param == "file" else None}


def _connect(stores: dict[str, object]) -> superlite.Datalayer:
    return superlite.connect(str(stores["uri"]), artifacts=stores["artifacts"], broker=None)  # type: ignore[arg-type]


def _upload_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "superlite-upload"]


def test_a_large_artifact_streams_and_loads_back(stores: dict[str, object]) -> None:
    with _connect(stores) as db:
        db.apply(ObjectModel("big", object=Weights(5 << 20)))
        (ref,) = db.record("model", "big").artifacts
        assert ref.digest.startswith("blake3:") and ref.size > 5 << 20
        with db.artifacts.open(ref.digest) as stream:
            assert digest_of(stream.read()) == ref.digest
        assert db.load("model", "big", lazy=False).predict(1) == (5 << 20) + 1
        assert not _upload_threads()


def test_applying_the_same_large_model_again_keeps_one_copy(stores: dict[str, object]) -> None:
    with _connect(stores) as db:
        first = db.apply(ObjectModel("big", object=Weights(3 << 20)))
        db.apply(ObjectModel("big", object=Weights(3 << 20)))
        db.apply(ObjectModel("twin", object=Weights(3 << 20)))
        assert db.record("model", "twin").artifacts == db.record("model", "big").artifacts
        assert db.show("model", "big") == [first.version]
        assert len(db.artifacts.list()) == 1


def test_a_serializer_failing_mid_stream_stores_nothing(stores: dict[str, object]) -> None:
    with _connect(stores) as db:
        broken = Weights(3 << 20)
        broken.tail = Unpicklable()  # type: ignore[attr-defined]
        with pytest.raises(Exception, match="cannot pickle this part"):
            db.apply(ObjectModel("broken", object=broken))
        assert db.show() == {}
        assert db.artifacts.list() == set()
        assert not _upload_threads()


class _BrokenStore:
    """Wraps a store whose streamed puts fail after the first chunk."""

    def __init__(self, store: ArtifactStore) -> None:
        self._store = store

    def put_stream(self, chunks: Iterator[bytes], digest: object) -> None:
        next(iter(chunks))
        raise OSError("the artifact store went away")

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_a_store_failing_mid_stream_fails_the_apply(stores: dict[str, object]) -> None:
    with _connect(stores) as db:
        db.registry.pipeline.store = _BrokenStore(db.artifacts)  # type: ignore[assignment]
        with pytest.raises(OSError, match="the artifact store went away"):
            db.apply(ObjectModel("big", object=Weights(4 << 20)))
        assert db.show() == {}
        assert not _upload_threads()


def test_sha256_may_still_be_chosen(stores: dict[str, object], tmp_path: Path) -> None:
    with superlite.connect(str(stores["uri"]), artifacts=stores["artifacts"], broker=None, artifact_hash="sha256") as db:  # type: ignore[arg-type]
        db.apply(ObjectModel("big", object=Weights(2 << 20)))
        (ref,) = db.record("model", "big").artifacts
        assert len(ref.digest) == 64
        assert db.load("model", "big", lazy=False).predict(0) == 2 << 20
