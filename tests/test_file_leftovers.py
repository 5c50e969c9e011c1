"""What killed uploads and deletes leave in a ``file://`` artifact store, and how garbage collection cleans it.

The first tests lay the leftovers out by hand (as a killed process leaves them); the drill kills a
real process in the middle of applying a large model.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import superlite
from superlite import ObjectModel
from superlite.stores.file import FileArtifactStore

HOUR_AGO = time.time() - 3600


def age(path: Path) -> Path:
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    return path


def artifact_path(root: Path, digest: str) -> Path:
    return FileArtifactStore(root).path(digest)


def test_collect_garbage_removes_old_partial_files_and_restores_artifacts_a_killed_delete_moved(tmp_path) -> None:
    root = tmp_path / "artifacts"
    with superlite.connect(f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{root}", broker=None) as db:
        model = db.apply(ObjectModel("kept", object=abs))
        (ref,) = db.record("model", "kept").artifacts
        stored = artifact_path(root, ref.digest)
        moved = age(stored.rename(stored.with_name(f".{stored.name}.0123abcd.deleting")))  # a delete died here
        old_partial = stored.with_name(f".{'e' * 64}.feedbeef.partial")
        old_partial.write_bytes(b"half an upload")
        age(old_partial)
        fresh_partial = stored.with_name(f".{'f' * 64}.0badcafe.partial")
        fresh_partial.write_bytes(b"an upload still running")

        assert db.collect_garbage() == set()
        assert stored.exists() and not moved.exists()  # put back where it belongs
        assert not old_partial.exists()
        assert fresh_partial.exists()  # may still be written: left alone
        assert db.compute(model.reference, "predict", (-3,)) == 3


def test_a_deleting_file_whose_artifact_came_back_is_removed(tmp_path) -> None:
    root = tmp_path / "artifacts"
    with superlite.connect(f"sqlite:///{tmp_path}/m.db", artifacts=f"file://{root}", broker=None) as db:
        db.apply(ObjectModel("kept", object=abs))
        (ref,) = db.record("model", "kept").artifacts
        stored = artifact_path(root, ref.digest)
        duplicate = stored.with_name(f".{stored.name}.0123abcd.deleting")
        duplicate.write_bytes(stored.read_bytes())
        age(duplicate)
        db.collect_garbage()
        assert stored.exists() and not duplicate.exists()


APPLY_A_LARGE_MODEL = textwrap.dedent(
    """
    import sys
    import numpy as np
    import superlite
    from superlite import ObjectModel

    class Big:
        def __init__(self):
            self.weights = np.random.default_rng(0).random(60_000_000)
        def __call__(self, x):
            return x

    with superlite.connect(sys.argv[1], artifacts=sys.argv[2], broker=None) as db:
        db.apply(ObjectModel("big", object=Big()))
    """
)


def test_drill_sigkill_during_a_file_upload_then_collect_garbage(tmp_path) -> None:
    root = tmp_path / "artifacts"
    uri, artifacts = f"sqlite:///{tmp_path}/m.db", f"file://{root}"
    with superlite.connect(uri, artifacts=artifacts, broker=None) as db:
        db.apply(ObjectModel("small", object=abs))
    child = subprocess.Popen([sys.executable, "-c", APPLY_A_LARGE_MODEL, uri, artifacts])
    deadline = time.monotonic() + 120
    while not list(root.rglob(".*.partial")):
        assert child.poll() is None, "the apply finished before it could be killed"
        assert time.monotonic() < deadline, "no upload started"
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    leftovers = list(root.rglob(".*.partial"))
    assert leftovers  # the killed upload left its temporary file
    with superlite.connect(uri, artifacts=artifacts, broker=None) as db:
        assert db.show("model") == ["small"]  # nothing half-stored
        for leftover in leftovers:
            age(leftover)
        db.collect_garbage()
        assert not list(root.rglob(".*.partial"))
        assert db.load("model", "small").predict(-1) == 1
