"""Listeners on mongomock, written to by a plain client: the polling fallback, following, leases,
resumed back-fills, versions and aliases, outputs the wire codec carries.

mongomock has no change streams, so these tests run the polling path; the change-stream path
(``superlite_mongodb.listener_streams``) runs on mocked change streams in
test_mongo_listener_streams.py.
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
from superlite.listeners import ListenerRunner

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
