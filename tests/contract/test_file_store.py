"""The file artifact store: the shared contract, then its own behaviour."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from superlite.config import Settings
from superlite.errors import ConfigurationError
from superlite.stores.base import ArtifactStore
from superlite.stores.file import FileArtifactStore, open_file_store
from superlite.stores.registry import open_artifact_store
from superlite.testing.fixtures import put_bytes, random_bytes
from superlite.testing.store_contract import ArtifactStoreContract


class TestFileArtifactStore(ArtifactStoreContract):
    """FileArtifactStore keeps the artifact contract."""

    @pytest.fixture
    def artifact_store(self, tmp_path: Path) -> ArtifactStore:
        """A store in a directory that does not exist yet."""
        return FileArtifactStore(tmp_path / "artifacts")


def test_layout_fans_out_by_hash(tmp_path: Path) -> None:
    """Artifacts live at root/ab/cd/<sha256>, with no temporary file left behind."""
    store = FileArtifactStore(tmp_path)
    sha256 = put_bytes(store, random_bytes(1000))
    assert (tmp_path / sha256[:2] / sha256[2:4] / sha256).is_file()
    assert [p.name for p in (tmp_path / sha256[:2] / sha256[2:4]).iterdir()] == [sha256]


def test_unfinished_put_is_not_listed(tmp_path: Path) -> None:
    """A temporary file of a put still in progress (or killed) is never listed as an artifact."""
    store = FileArtifactStore(tmp_path)
    sha256 = "ab" * 32
    (tmp_path / "ab" / "ab").mkdir(parents=True)
    (tmp_path / "ab" / "ab" / f".{sha256}.123.partial").write_bytes(b"half")
    assert store.list() == set()
    assert not store.exists(sha256)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "AB" * 32, "ab" * 31, ""])
def test_malformed_hash_is_refused(tmp_path: Path, bad: str) -> None:
    """Only lowercase hex SHA-256 names are used as paths."""
    store = FileArtifactStore(tmp_path)
    with pytest.raises(ValueError):
        store.put(bad, [b"x"], 1)
    with pytest.raises(ValueError):
        store.open(bad)


def test_registry_opens_file_uris(tmp_path: Path) -> None:
    """``file:///path`` opens a FileArtifactStore rooted there."""
    store = open_artifact_store(f"file://{tmp_path}/store", Settings(uri="sqlite://"))
    assert isinstance(store, FileArtifactStore)
    assert store.root == tmp_path / "store"


@pytest.mark.parametrize("uri", ["file://otherhost/path", "file://", "http://x/y"])
def test_bad_file_uris_are_refused(uri: str) -> None:
    """Remote hosts and empty paths are configuration errors."""
    with pytest.raises(ConfigurationError):
        open_file_store(uri, Settings(uri="sqlite://"))


def test_touch_between_check_and_rename_puts_the_file_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A conditional delete that loses to a touch after its age check leaves the artifact in place."""
    store = FileArtifactStore(tmp_path)
    sha256 = put_bytes(store, b"contested")
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    time.sleep(0.01)
    rename = os.rename

    def touched_first(source: str, destination: str) -> None:
        assert store.touch(sha256)
        rename(source, destination)

    monkeypatch.setattr(os, "rename", touched_first)
    assert not store.delete(sha256, unused_since=cutoff)
    assert store.exists(sha256)
    assert [p.name for p in (tmp_path / sha256[:2] / sha256[2:4]).iterdir()] == [sha256]
