"""Listeners on mongomock, written to by a plain client: the polling fallback, following, leases,
resumed back-fills, versions and aliases, outputs the wire codec carries.

mongomock has no change streams, so these tests run the polling path; the change-stream path
(``superlite_mongodb.listener_streams``) needs a replica set and is not exercised here beyond
its event filter.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from superlite_mongodb.connection import forget_mongomock, open_connection
from superlite_mongodb.listener_streams import touches
from superlite_mongodb.listeners import MongoListenerSource

import superlite
from superlite import Listener, ObjectModel
from superlite.listeners import ListenerBusyError, ListenerRunner

#: Seconds to wait for the following thread (generous for a loaded machine; not a timing claim).
WAIT = 30.0


@pytest.fixture
def mongo() -> Iterator[tuple[superlite.Datalayer, object]]:
    """A Datalayer on a fresh mongomock database, and that database as the application sees it."""
    name = f"follow-{uuid.uuid4().hex[:8]}"
    uri = f"mongomock://{name}"
    with superlite.connect(uri, broker=None) as db:
        yield db, open_connection(uri).database
    forget_mongomock(name)


def shout(text: str) -> str:
    if text == "boom":
        raise ValueError("no booms")
    return text.upper()


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT} s: {what}")
        time.sleep(0.02)


def test_without_change_streams_the_source_falls_back_to_polling(mongo) -> None:
    db, database = mongo
    database.reviews.insert_one({"_id": 1, "text": "good"})
    db.apply(ObjectModel("shout", object=shout))
    listener = db.apply(Listener("loud", model="shout", table="reviews", key="text"))
    assert database["_superlite_listener_state"].find_one({"_id": "loud"})["stream_token"] is None
    source = MongoListenerSource(db.settings.uri, listener)
    try:
        assert source.following == "change stream"  # not yet known
        database.reviews.insert_one({"_id": 2, "text": "new"})
        assert [change.source_id for change in source.changes(10)] == [2]
        assert source.following == "polling"
    finally:
        source.close()


def test_following_thread_sees_inserts_updates_and_deletes(mongo) -> None:
    db, database = mongo
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="review.text", backfill=False))
    stop = threading.Event()
    follower = threading.Thread(target=ListenerRunner(db).follow, kwargs={"interval": 0.02, "stop": stop.is_set})
    follower.start()
    try:
        database.reviews.insert_many([{"_id": 1, "review": {"text": "good"}}, {"_id": 2, "review": {"text": "bad"}}])
        eventually(lambda: db.outputs("loud") == {1: "GOOD", 2: "BAD"}, "outputs of inserted documents")
        database.reviews.replace_one({"_id": 1}, {"review": {"text": "fine"}})
        database.reviews.update_one({"_id": 2}, {"$set": {"review": {"text": "boom"}}})
        eventually(lambda: db.outputs("loud") == {1: "FINE"}, "replaced output, failed row's output gone")
        eventually(lambda: db.listener_errors("loud") == {2: "ValueError: no booms"}, "the failed row's error")
        database.reviews.delete_one({"_id": 1})
        eventually(lambda: db.outputs("loud") == {}, "output of the deleted document gone")
    finally:
        stop.set()
        follower.join(30)
    assert not follower.is_alive()


def test_outputs_the_wire_codec_carries_round_trip(mongo) -> None:
    db, database = mongo
    database.blobs.insert_many([{"_id": 1, "text": "ab"}, {"_id": 2, "text": "c"}])
    db.apply(ObjectModel("pack", object=lambda text: (text.encode(), {1: text}, [b"\x00\xff"])))
    db.apply(Listener("packed", model="pack", table="blobs", key="text"))
    assert db.outputs("packed") == {1: (b"ab", {1: "ab"}, [b"\x00\xff"]), 2: (b"c", {1: "c"}, [b"\x00\xff"])}
    database.blobs.update_one({"_id": 2}, {"$set": {"text": "d"}})
    db.catch_up("packed")
    assert db.outputs("packed")[2] == (b"d", {1: "d"}, [b"\x00\xff"])


def test_an_output_that_cannot_be_stored_is_the_rows_error(mongo) -> None:
    db, database = mongo
    database.numbers.insert_many([{"_id": 1, "x": 1.0}, {"_id": 2, "x": 0.0}, {"_id": 3, "x": 3.0}])
    db.apply(ObjectModel("odd", object=lambda x: {x} if x == 3.0 else (float("nan") if x == 0.0 else x)))
    db.apply(Listener("odd", model="odd", table="numbers", key="x"))
    assert db.outputs("odd") == {1: 1.0}
    failed = db.listener_errors("odd")
    assert set(failed) == {2, 3}
    assert "NaN" in failed[2] and "set" in failed[3]


def test_interrupted_backfill_resumes(mongo, monkeypatch: pytest.MonkeyPatch) -> None:
    db, database = mongo
    database.reviews.insert_many([{"_id": i, "text": f"row {i}"} for i in range(10)])
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="text", batch_size=2, backfill=False))
    commit = MongoListenerSource.commit
    calls = []

    def failing_third(self, model, batch):
        calls.append(batch)
        if len(calls) == 3:
            raise RuntimeError("the process died here")
        commit(self, model, batch)

    monkeypatch.setattr(MongoListenerSource, "commit", failing_third)
    with pytest.raises(RuntimeError, match="died"):
        db.catch_up("loud")
    monkeypatch.undo()
    assert len(db.outputs("loud")) == 4
    assert db.catch_up("loud")["computed"] == 6
    assert db.outputs("loud") == {i: f"ROW {i}" for i in range(10)}


def test_one_process_at_a_time(mongo) -> None:
    db, database = mongo
    database.reviews.insert_one({"_id": 1, "text": "good"})
    db.apply(ObjectModel("shout", object=shout))
    listener = db.apply(Listener("loud", model="shout", table="reviews", key="text"))
    first, second = ListenerRunner(db), ListenerRunner(db)
    with first.source(listener) as source:
        assert source.acquire(first.owner, 60)
        assert not source.acquire(second.owner, 60)
        with pytest.raises(ListenerBusyError):
            second.catch_up("loud", wait=0)
        source.release(first.owner)
    database.reviews.insert_one({"_id": 2, "text": "new"})
    assert second.catch_up("loud", wait=0)["computed"] == 1


def test_errors_retried_by_the_next_version_and_alias_moves(mongo) -> None:
    db, database = mongo
    database.reviews.insert_many([{"_id": 1, "text": "good"}, {"_id": 2, "text": "boom"}])
    db.apply(ObjectModel("shout", object=shout))
    db.apply(ObjectModel("shout", object=lambda text: text + "!"))
    db.set_alias("model", "shout", "production", 0)
    db.apply(Listener("loud", model="shout@production", table="reviews", key="text"))
    assert db.outputs("loud") == {1: "GOOD"} and set(db.listener_errors("loud")) == {2}
    db.set_alias("model", "shout", "production", 1)
    assert db.catch_up("loud") == {"computed": 2, "failed": 0, "deleted": 0, "model_version": 1}
    assert db.outputs("loud") == {1: "good!", 2: "boom!"}
    assert db.listener_errors("loud") == {}
    assert {doc["model_version"] for doc in database["_outputs__loud"].find()} == {1}


def test_status_shows_lag_and_errors(mongo) -> None:
    db, database = mongo
    database.reviews.insert_many([{"_id": 1, "text": "good"}, {"_id": 2, "text": "boom"}])
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="text"))
    database.reviews.insert_many([{"_id": 3, "text": "a"}, {"_id": 4, "text": "b"}])
    [status] = ListenerRunner(db).status()
    assert (status.lag.pending, status.lag.errors, status.backfill_done) == (2, 1, True)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"operationType": "insert"}, True),
        ({"operationType": "delete"}, True),
        ({"operationType": "replace"}, True),
        ({"operationType": "update", "updateDescription": {"updatedFields": {"review.text": "x"}}}, True),
        ({"operationType": "update", "updateDescription": {"updatedFields": {"review": {"text": "x"}}}}, True),
        ({"operationType": "update", "updateDescription": {"updatedFields": {"review.text.0": "x"}}}, True),
        ({"operationType": "update", "updateDescription": {"removedFields": ["review"]}}, True),
        ({"operationType": "update", "updateDescription": {"updatedFields": {"stars": 1}}}, False),
        ({"operationType": "update", "updateDescription": {"updatedFields": {"review.textual": 1}}}, False),
    ],
)
def test_change_stream_events_that_touch_the_key(event: dict, expected: bool) -> None:
    assert touches(event, "review.text", filtered=False) is expected
    assert touches(event, "review.text", filtered=True) is True


def test_polling_on_a_watermark_reads_only_documents_it_passed(mongo) -> None:
    db, database = mongo
    database.reviews.insert_many([{"_id": i, "text": f"t{i}", "at": 1} for i in range(3)])
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="text", watermark="at", batch_size=2))
    assert database["_superlite_listener_state"].find_one({"_id": "loud"})["poll_mark"] == 1
    assert db.outputs("loud") == {0: "T0", 1: "T1", 2: "T2"}

    database.reviews.update_one({"_id": 0}, {"$set": {"text": "unseen"}})  # the watermark did not move
    database.reviews.insert_many([{"_id": 3, "text": "a", "at": 2}, {"_id": 4, "text": "b", "at": 3}, {"_id": 5, "text": "c", "at": 3}])
    database.reviews.update_one({"_id": 1}, {"$set": {"text": "moved", "at": 3}})
    database.reviews.delete_one({"_id": 2})
    counts = db.catch_up("loud")  # batches of 2 meet three documents at 3: none is left behind
    assert (counts["computed"], counts["deleted"]) == (4, 1)
    assert db.outputs("loud") == {0: "T0", 1: "MOVED", 3: "A", 4: "B", 5: "C"}
    assert database["_superlite_listener_state"].find_one({"_id": "loud"})["poll_mark"] == 3
    assert db.catch_up("loud")["computed"] == 0

    database.reviews.update_one({"_id": 0}, {"$set": {"at": 4}})
    db.catch_up("loud")
    assert db.outputs("loud")[0] == "UNSEEN"
