"""What every listener source must do, on rows the application writes with its own driver.

A backend's test module subclasses :class:`ListenerContract` and provides two fixtures: ``db``
(a Datalayer with in-process compute on a fresh database) and ``rows`` (an :class:`AppRows` on
the same database, writing through the application's driver, never through superlite, to an
empty table or collection named :data:`TABLE`)::

    class TestMySourceListens(ListenerContract):
        @pytest.fixture
        def rows(self, db):
            ...

Each test applies listeners on :data:`TABLE` with the key ``text`` and checks what
``db.outputs``, ``db.listener_errors`` and ``db.catch_up`` report as rows come, change and go.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from superlite.components.object_model import ObjectModel
from superlite.errors import DependencyError
from superlite.listeners import Listener, ListenerBusyError, ListenerRunner

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer

#: The table (or collection) the contract's rows live in.
TABLE = "reviews"


class AppRows(Protocol):
    """The application's own writes to :data:`TABLE` (rows ``{"id": int, "text": str}``), and reads of outputs."""

    #: The backend's :class:`~superlite.listeners.source.ListenerSource` class.
    source_class: type

    def insert(self, *rows: dict[str, Any]) -> None:
        """Insert ``rows`` in one transaction."""

    def update(self, row_id: int, text: str) -> None:
        """Set the ``text`` of row ``row_id``."""

    def delete(self, row_id: int) -> None:
        """Delete row ``row_id``."""

    def output_column(self, listener: str, column: str) -> list[Any]:
        """Every value of ``column`` in ``listener``'s stored outputs (``source_id``, ``model_version``, ...)."""

    def has_outputs_table(self, listener: str) -> bool:
        """Whether ``listener``'s outputs table (or collection) exists."""

    def without_text(self, text: str) -> Any:
        """A listener ``where=`` filter leaving out the rows whose ``text`` is ``text``, in the database's terms."""


def shout(text: str) -> str:
    """The model most tests apply: upper case, and a failure on the text "boom"."""
    if text == "boom":
        raise ValueError("no booms")
    return text.upper()


def _rows(*texts: str) -> Sequence[dict[str, Any]]:
    return [{"id": i, "text": text} for i, text in enumerate(texts, start=1)]


class ListenerContract:
    """The shared listener tests; see the module docstring for the fixtures a backend provides."""

    def test_backfill_then_inserts_updates_and_deletes(self, db: Datalayer, rows: AppRows) -> None:
        rows.insert(*_rows("good", "bad"))
        model = db.apply(ObjectModel("shout", object=shout))
        db.apply(Listener("loud", model=model, table=TABLE, key="text"))
        assert db.outputs("loud") == {1: "GOOD", 2: "BAD"}

        rows.insert({"id": 3, "text": "new"})
        rows.update(2, "worse")
        rows.delete(1)
        counts = db.catch_up("loud")
        assert db.outputs("loud") == {2: "WORSE", 3: "NEW"}
        assert (counts["computed"], counts["deleted"]) == (2, 1)
        assert db.catch_up("loud")["computed"] == 0  # nothing pending: nothing recomputed
        assert set(rows.output_column("loud", "model_uuid")) == {model.uuid}

    def test_ranges_and_a_range_of_rows_for_workers(self, db: Datalayer, rows: AppRows) -> None:
        rows.insert(*_rows("a", "b", "c", "d", "boom"))
        model = db.apply(ObjectModel("shout", object=shout))
        runner = ListenerRunner(db)
        db.apply(Listener("loud", model=model, table=TABLE, key="text", where=rows.without_text("c"), backfill=False))
        listener = runner.listener("loud")
        with runner.source(listener) as source:
            assert source.ranges(None, 2, 10) == [(2, 2), (5, 2)]  # row 3 is outside the filter
            assert source.ranges(2, 2, 1) == [(5, 2)]
            assert source.ranges(5, 2, 10) == []
            resolved = db.resolve(listener.selector, split=False)
            counts = runner.backfill_range(listener, source, resolved, 2, 5)
        assert (counts["computed"], counts["failed"]) == (1, 1)
        assert db.outputs("loud") == {4: "D"}
        assert list(db.listener_errors("loud")) == [5]

    def test_errors_per_row_are_retried_by_the_next_version(self, db: Datalayer, rows: AppRows) -> None:
        rows.insert(*_rows("good", "boom"))
        db.apply(ObjectModel("shout", object=shout))
        db.apply(Listener("loud", model="shout", table=TABLE, key="text"))  # follows the latest version
        assert db.outputs("loud") == {1: "GOOD"}
        assert db.listener_errors("loud") == {2: "ValueError: no booms"}

        db.apply(ObjectModel("shout", object=lambda text: text + "!"))
        assert db.catch_up("loud") == {"computed": 2, "failed": 0, "deleted": 0, "model_version": 1}
        assert db.outputs("loud") == {1: "good!", 2: "boom!"}
        assert db.listener_errors("loud") == {}
        assert set(rows.output_column("loud", "model_version")) == {1}

    def test_outputs_follow_an_alias_not_its_canary(self, db: Datalayer, rows: AppRows) -> None:
        rows.insert(*_rows("good", "bad"))
        db.apply(ObjectModel("shout", object=shout))
        db.apply(ObjectModel("shout", object=lambda text: text + "!"))
        db.set_alias("model", "shout", "production", 0)
        db.apply(Listener("loud", model="shout@production", table=TABLE, key="text"))
        assert db.outputs("loud") == {1: "GOOD", 2: "BAD"}

        db.start_canary("model", "shout", "production", 1, 50)  # a canary is not the alias's target
        assert db.catch_up("loud")["computed"] == 0
        db.promote("model", "shout", "production")
        assert db.catch_up("loud") == {"computed": 2, "failed": 0, "deleted": 0, "model_version": 1}
        assert db.outputs("loud") == {1: "good!", 2: "bad!"}

    def test_outputs_the_wire_codec_carries_round_trip(self, db: Datalayer, rows: AppRows) -> None:
        """bytes, tuples and non-text dict keys are stored as the wire codec's tagged JSON and read back."""
        rows.insert(*_rows("ab", "c"))
        db.apply(ObjectModel("pack", object=lambda text: (text.encode(), {1: text}, [b"\x00\xff"])))
        db.apply(Listener("packed", model="pack", table=TABLE, key="text"))
        assert db.outputs("packed") == {1: (b"ab", {1: "ab"}, [b"\x00\xff"]), 2: (b"c", {1: "c"}, [b"\x00\xff"])}
        rows.update(2, "d")
        db.catch_up("packed")
        assert db.outputs("packed")[2] == (b"d", {1: "d"}, [b"\x00\xff"])

    def test_an_output_that_cannot_be_stored_is_the_rows_error(self, db: Datalayer, rows: AppRows) -> None:
        """A NaN or a type the wire codec does not carry fails that row only; the others are stored."""
        rows.insert(*_rows("good", "bad", "set"))
        db.apply(ObjectModel("odd", object=lambda text: {text} if text == "set" else (float("nan") if text == "bad" else text)))
        db.apply(Listener("odd", model="odd", table=TABLE, key="text"))
        assert db.outputs("odd") == {1: "good"}
        failed = db.listener_errors("odd")
        assert set(failed) == {2, 3} and "NaN" in failed[2] and "set" in failed[3]

    def test_an_interrupted_backfill_resumes_where_it_stopped(self, db: Datalayer, rows: AppRows, monkeypatch: pytest.MonkeyPatch) -> None:
        rows.insert(*({"id": i, "text": f"row {i}"} for i in range(1, 11)))
        db.apply(ObjectModel("shout", object=shout))
        db.apply(Listener("loud", model="shout", table=TABLE, key="text", batch_size=2, backfill=False))
        commit = rows.source_class.commit
        calls = []

        def failing_third(source: Any, model: Any, batch: Any) -> None:
            calls.append(batch)
            if len(calls) == 3:
                raise RuntimeError("the process died here")
            commit(source, model, batch)

        monkeypatch.setattr(rows.source_class, "commit", failing_third)
        with pytest.raises(RuntimeError, match="died"):
            db.catch_up("loud")
        monkeypatch.undo()
        assert len(db.outputs("loud")) == 4
        assert db.catch_up("loud", progress=True)["computed"] == 6
        assert db.outputs("loud") == {i: f"ROW {i}" for i in range(1, 11)}

    def test_one_process_at_a_time_per_listener(self, db: Datalayer, rows: AppRows) -> None:
        rows.insert(*_rows("good"))
        db.apply(ObjectModel("shout", object=shout))
        listener = db.apply(Listener("loud", model="shout", table=TABLE, key="text"))
        first, second = ListenerRunner(db), ListenerRunner(db)
        with first.source(listener) as source:
            assert source.acquire(first.owner, 60)
            assert not source.acquire(second.owner, 60)
            with pytest.raises(ListenerBusyError):
                second.catch_up("loud", wait=0)
            source.release(first.owner)
        rows.insert({"id": 2, "text": "new"})
        assert second.catch_up("loud", wait=0)["computed"] == 1

    def test_a_chained_listener_is_triggered_by_outputs(self, db: Datalayer, rows: AppRows) -> None:
        rows.insert(*_rows("good", "bad"))
        db.apply(ObjectModel("shout", object=shout))
        db.apply(ObjectModel("length", object=len))
        db.apply(Listener("loud", model="shout", table=TABLE, key="text"))
        db.apply(Listener("size", model="length", table="_outputs__loud", key="output"))
        assert db.outputs("size") == {1: 4, 2: 3}
        rows.insert({"id": 3, "text": "lovely"})
        rows.delete(1)
        db.catch_up("loud")
        db.catch_up("size")
        assert db.outputs("size") == {2: 3, 3: 6}
        with pytest.raises(DependencyError, match="size"):
            db.remove("listener", "loud")

    def test_remove_drops_outputs_unless_kept(self, db: Datalayer, rows: AppRows) -> None:
        rows.insert(*_rows("good", "bad"))
        model = db.apply(ObjectModel("shout", object=shout))
        db.apply(Listener("loud", model=model, table=TABLE, key="text"))
        with pytest.raises(DependencyError):
            db.remove("model", "shout")
        db.remove("listener", "loud", keep_outputs=True)
        assert sorted(rows.output_column("loud", "source_id")) == [1, 2]
        rows.insert({"id": 3, "text": "new"})  # nothing left behind to fail or queue

        db.apply(Listener("loud", model=model, table=TABLE, key="text"))
        db.remove("listener", "loud")
        assert not rows.has_outputs_table("loud")
