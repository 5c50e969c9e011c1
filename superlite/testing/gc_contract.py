"""Garbage collection against concurrent applies: the bad interleavings, forced one step at a time.

Freeing an artifact is two steps (count its references, then delete it) and so is applying one
(see it is stored, then insert a record referring to it). These tests stop the freeing side
between its two steps, run a whole apply of the same bytes in another thread, then let the
freeing side finish; the applied component must still load. A backend subclasses
:class:`GarbageCollectionContract` and provides a ``db`` fixture (a Datalayer on an empty
database, with the backend's metadata and artifact stores)::

    class TestMyStoresCollectGarbageSafely(GarbageCollectionContract):
        @pytest.fixture
        def db(self):
            ...
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from superlite.components.object_model import ObjectModel

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer

#: Stores may keep last-use times to the millisecond (GridFS): wait this long before expecting a
#: just-used artifact to count as unused.
STAMP_RESOLUTION = 0.01

#: Seconds any step of a forced interleaving may take before the test gives up on it.
STEP_TIMEOUT = 60.0


def double(x: Any) -> Any:
    """The model every test applies: identical bytes each time."""
    return 2 * x


class _Thread(threading.Thread):
    """A thread that keeps its target's exception for the test to raise."""

    def __init__(self, target: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._work = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # noqa: BLE001 - re-raised by finish()
            self.error = exc

    def finish(self) -> None:
        self.join(STEP_TIMEOUT)
        assert not self.is_alive(), "a step of the interleaving did not finish"
        if self.error is not None:
            raise self.error


def interleave(db: Datalayer, sha256: str, freeing: Callable[[], object], applying: Callable[[], object]) -> None:
    """Run ``freeing`` until it has counted no reference to ``sha256``, run ``applying``, then resume.

    The pause is in ``db.metadata.artifact_references``, the freeing side's check, after it has
    returned 0 and before the delete it leads to. ``applying`` runs in a thread of its own while
    the freeing side holds still, so a design that made it wait would also pass (and one that
    deadlocked would fail on the timeout).
    """
    checked, resume = threading.Event(), threading.Event()
    count = db.metadata.artifact_references

    def paused(candidate: str) -> int:
        references = count(candidate)
        if candidate == sha256 and references == 0 and not checked.is_set():
            checked.set()
            assert resume.wait(STEP_TIMEOUT), "the test never resumed the freeing side"
        return references

    db.metadata.artifact_references = paused  # type: ignore[method-assign]
    try:
        freer = _Thread(freeing)
        freer.start()
        assert checked.wait(STEP_TIMEOUT), "the freeing side never counted the artifact's references"
        applier = _Thread(applying)
        applier.start()
        applier.join(STEP_TIMEOUT / 2)
        resume.set()
        freer.finish()
        applier.finish()
    finally:
        resume.set()
        del db.metadata.artifact_references


class GarbageCollectionContract:
    """What ``remove`` and ``collect_garbage`` must never do: delete bytes an applied record needs.

    Needs a ``db`` fixture: a Datalayer on an empty database of the backend under test.
    """

    def test_collect_garbage_paused_before_delete_keeps_bytes_an_apply_took(self, db: Datalayer) -> None:
        """An orphan artifact is re-used by an apply while the collector is between check and delete."""
        first = db.apply(ObjectModel("orphaned", object=double))
        (sha256,) = {a.digest for a in db.record("model", "orphaned").artifacts}
        db.metadata.delete([first.uuid])  # what an interrupted apply or remove leaves behind
        interleave(db, sha256, db.collect_garbage, lambda: db.apply(ObjectModel("taker", object=double)))
        assert db.record("model", "taker").artifacts[0].digest == sha256
        assert db.load("model", "taker", lazy=False).predict(4) == 8

    def test_remove_paused_before_delete_keeps_bytes_an_apply_took(self, db: Datalayer) -> None:
        """Identical bytes applied under another identifier while ``remove`` is between check and delete."""
        db.apply(ObjectModel("removed", object=double))
        (sha256,) = {a.digest for a in db.record("model", "removed").artifacts}
        interleave(db, sha256, lambda: db.remove("model", "removed"), lambda: db.apply(ObjectModel("taker", object=double)))
        assert db.show("model") == ["taker"]
        assert db.load("model", "taker", lazy=False).predict(4) == 8

    def test_collect_garbage_still_frees_what_nobody_uses(self, db: Datalayer) -> None:
        """After the race tests' repairs, an artifact that really is unused is still collected."""
        first = db.apply(ObjectModel("orphaned", object=double))
        (sha256,) = {a.digest for a in db.record("model", "orphaned").artifacts}
        db.metadata.delete([first.uuid])
        time.sleep(STAMP_RESOLUTION)
        assert db.collect_garbage() == {sha256}
        assert not db.artifacts.exists(sha256)
        assert db.collect_garbage() == set()

    def test_grace_keeps_recently_used_artifacts(self, db: Datalayer, monkeypatch: pytest.MonkeyPatch) -> None:
        """With a grace period, an unreferenced artifact used within it stays until it has passed."""
        first = db.apply(ObjectModel("orphaned", object=double))
        (sha256,) = {a.digest for a in db.record("model", "orphaned").artifacts}
        db.metadata.delete([first.uuid])
        monkeypatch.setattr(db.registry, "settings", db.settings.with_options(gc_grace=3600))
        assert db.collect_garbage() == set()
        assert db.artifacts.exists(sha256)
        monkeypatch.setattr(db.registry, "settings", db.settings.with_options(gc_grace=0))
        time.sleep(STAMP_RESOLUTION)
        assert db.collect_garbage() == {sha256}
