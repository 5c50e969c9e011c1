"""Listeners and the change feed on the change-stream path, through mocked change streams.

No replica set can run here, so ``mongomock://`` names whose client is a
:class:`~fake_change_streams.ReplicaSetClient` (see that module for what it models and what it
does not). The listener code under test is the plugin's own: ``db.apply(Listener(...))``,
``db.catch_up``, :class:`~superlite.listeners.ListenerRunner` and ``ChangeFeed.wait``.
The shared listener contract runs again here, on streams.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fake_change_streams import HISTORY_LOST, Oplog, ReplicaSetClient, position, token
from mongo_support import MongoRows
from pymongo.errors import OperationFailure
from superlite_mongodb import connection as mongo_connection
from superlite_mongodb.connection import forget_mongomock, open_connection
from superlite_mongodb.listeners import STATE, MongoListenerSource
from superlite_mongodb.metadata import MongoMetadataStore

import superlite
from superlite import Listener, ObjectModel
from superlite.listeners import ListenerRunner
from superlite.testing.listener_contract import ListenerContract

#: Seconds to wait for another thread (generous for a loaded machine; not a timing claim).
WAIT = 30.0


@dataclass
class ReplicaSet:
    """A ``mongomock://`` database with mocked change streams, and how to reach it."""

    uri: str
    database: Any
    oplog: Oplog
    compared: list[str]  # one entry per comparison pass (listener name): the polling fallback ran

    def connect(self) -> superlite.Datalayer:
        """A Datalayer on this database (as a restarted process would open it)."""
        return superlite.connect(self.uri, broker=None)

    def state(self, listener: str) -> dict[str, Any]:
        """The listener's state document."""
        return self.database[STATE].find_one({"_id": listener})


@pytest.fixture
def replica_set() -> Iterator[ReplicaSet]:
    """A fresh database whose ``mongomock://`` client has change streams; comparison passes are counted.

    The client goes into the connection module's registry of in-memory servers, where
    ``open_connection`` finds it: every opener of the URI (stores, listener sources) shares it.
    The patches are this fixture's own, so that a test's ``monkeypatch.undo()`` leaves them.
    """
    name = f"streams-{uuid.uuid4().hex[:8]}"
    client = ReplicaSetClient(tz_aware=True)
    compared: list[str] = []
    compare = MongoListenerSource._compared

    def counted(source: MongoListenerSource, limit: int) -> Any:
        compared.append(source.name)
        return compare(source, limit)

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(mongo_connection._MONGOMOCK_CLIENTS, name, client)
        patch.setattr(MongoListenerSource, "_compared", counted)
        yield ReplicaSet(f"mongomock://{name}", client[name], client.oplog, compared)
    forget_mongomock(name)


@pytest.fixture
def db(replica_set: ReplicaSet) -> Iterator[superlite.Datalayer]:
    """A Datalayer on the replica set's database."""
    with replica_set.connect() as db:
        yield db


class TestStreamSourcesListen(ListenerContract):
    """The shared listener contract, followed through change streams (never a comparison pass)."""

    @pytest.fixture
    def rows(self, replica_set: ReplicaSet) -> Iterator[MongoRows]:
        yield MongoRows(replica_set.database)
        assert replica_set.compared == []


def shout(text: str) -> str:
    return text.upper()


def test_the_stream_names_inserts_key_updates_and_deletes_and_passes_over_other_updates(db, replica_set) -> None:
    reviews = replica_set.database.reviews
    reviews.insert_many([{"_id": 1, "review": {"text": "good"}, "stars": 5}, {"_id": 2, "review": {"text": "bad"}, "stars": 1}])
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="review.text"))
    assert replica_set.state("loud")["stream_token"] is not None

    reviews.insert_one({"_id": 3, "review": {"text": "new"}, "stars": 3})
    reviews.update_one({"_id": 2}, {"$set": {"review.text": "worse"}})
    reviews.update_one({"_id": 1}, {"$set": {"stars": 4}})  # leaves the key alone: not recomputed
    written = replica_set.oplog.last
    counts = db.catch_up("loud")
    assert (counts["computed"], counts["deleted"]) == (2, 0)
    assert position(replica_set.state("loud")["stream_token"]) >= written  # past every event read

    reviews.delete_one({"_id": 1})
    assert db.catch_up("loud")["deleted"] == 1
    assert db.outputs("loud") == {2: "WORSE", 3: "NEW"}
    assert replica_set.compared == []


def test_only_passed_over_updates_still_move_the_stored_token(db, replica_set) -> None:
    reviews = replica_set.database.reviews
    reviews.insert_one({"_id": 1, "text": "good", "stars": 5})
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="text"))
    reviews.update_one({"_id": 1}, {"$set": {"stars": 4}})
    written = replica_set.oplog.last
    assert db.catch_up("loud")["computed"] == 0
    assert position(replica_set.state("loud")["stream_token"]) >= written  # past every event read


def test_with_a_filter_every_update_is_read_and_documents_leaving_it_lose_their_output(db, replica_set) -> None:
    reviews = replica_set.database.reviews
    reviews.insert_many([{"_id": 1, "text": "good", "stars": 5}, {"_id": 2, "text": "bad", "stars": 1}])
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="text", where={"stars": {"$gte": 3}}))
    assert db.outputs("loud") == {1: "GOOD"}

    reviews.update_one({"_id": 1}, {"$set": {"stars": 2}})  # leaves the filter
    reviews.update_one({"_id": 2}, {"$set": {"stars": 4}})  # enters it
    counts = db.catch_up("loud")
    assert (counts["computed"], counts["deleted"]) == (1, 1)
    assert db.outputs("loud") == {2: "BAD"}
    assert replica_set.compared == []


def test_a_restarted_process_resumes_from_the_stored_token(replica_set) -> None:
    reviews = replica_set.database.reviews
    reviews.insert_one({"_id": 1, "text": "good"})
    with replica_set.connect() as db:
        db.apply(ObjectModel("shout", object=shout))
        db.apply(Listener("loud", model="shout", table="reviews", key="text"))
    stored = replica_set.state("loud")["stream_token"]

    reviews.insert_one({"_id": 2, "text": "written while no process ran"})
    reviews.update_one({"_id": 1}, {"$set": {"text": "changed meanwhile"}})
    with replica_set.connect() as db:
        assert db.catch_up("loud")["computed"] == 2
        assert db.outputs("loud") == {1: "CHANGED MEANWHILE", 2: "WRITTEN WHILE NO PROCESS RAN"}
    assert replica_set.state("loud")["stream_token"] != stored
    assert replica_set.compared == []


def test_when_history_is_lost_one_comparison_pass_catches_up_then_the_stream_resumes(db, replica_set, caplog) -> None:
    reviews = replica_set.database.reviews
    reviews.insert_many([{"_id": 1, "text": "good"}, {"_id": 2, "text": "bad"}])
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="text"))

    reviews.update_one({"_id": 1}, {"$set": {"text": "lost"}})
    reviews.delete_one({"_id": 2})
    replica_set.oplog.forget()  # the oplog rolled over: the stored token is gone
    with caplog.at_level(logging.WARNING, logger="superlite_mongodb.listeners"):
        counts = db.catch_up("loud")
    assert (counts["computed"], counts["deleted"]) == (1, 1)
    assert db.outputs("loud") == {1: "LOST"}
    assert "comparing every document once" in caplog.text
    assert replica_set.compared == ["loud"]

    reviews.insert_one({"_id": 3, "text": "after"})
    assert db.catch_up("loud")["computed"] == 1
    assert db.outputs("loud") == {1: "LOST", 3: "AFTER"}
    assert replica_set.compared == ["loud"]  # followed through the stream again


def test_history_lost_with_nothing_changed_stores_a_fresh_token(db, replica_set) -> None:
    reviews = replica_set.database.reviews
    reviews.insert_one({"_id": 1, "text": "good"})
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="text"))
    reviews.update_one({"_id": 1}, {"$set": {"stars": 1}})
    replica_set.oplog.forget()
    assert db.catch_up("loud")["computed"] == 0
    reviews.insert_one({"_id": 2, "text": "new"})
    assert db.catch_up("loud")["computed"] == 1
    assert replica_set.compared == ["loud"]  # one comparison pass, then the stream again


def test_a_dropped_collection_ends_the_stream_and_a_comparison_pass_catches_up(db, replica_set) -> None:
    reviews = replica_set.database.reviews
    reviews.insert_many([{"_id": 1, "text": "good"}, {"_id": 2, "text": "bad"}])
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="text"))
    reviews.drop()
    reviews.insert_one({"_id": 3, "text": "anew"})
    db.catch_up("loud")
    assert db.outputs("loud") == {3: "ANEW"}
    assert replica_set.compared == ["loud"]


def test_the_mock_refuses_a_token_older_than_its_history(replica_set) -> None:
    """The double itself: the failure the HistoryLost tests above rely on."""
    events = replica_set.database.events
    old = events.watch().resume_token
    events.insert_one({"_id": 1})
    replica_set.oplog.forget()
    with pytest.raises(OperationFailure) as raised:
        events.watch(resume_after=old)
    assert raised.value.code == HISTORY_LOST
    assert events.watch(resume_after=token(replica_set.oplog.last)).try_next() is None


def test_a_following_thread_wakes_on_an_event_not_on_its_interval(db, replica_set) -> None:
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="text", backfill=False))
    stop = threading.Event()
    follower = threading.Thread(target=ListenerRunner(db).follow, kwargs={"interval": WAIT, "stop": stop.is_set})
    follower.start()
    try:
        time.sleep(0.2)  # the follower is waiting on the stream
        replica_set.database.reviews.insert_one({"_id": 1, "text": "good"})
        assert _within(WAIT / 3, lambda: db.outputs("loud") == {1: "GOOD"}), "the follower slept through the event"
    finally:
        stop.set()
        replica_set.database.reviews.insert_one({"_id": 2, "text": "wake up to stop"})
        follower.join(WAIT)
    assert not follower.is_alive()


def test_the_change_feed_wait_wakes_on_an_event(db, replica_set) -> None:
    store = MongoMetadataStore(open_connection(replica_set.uri))  # a feed of its own (the Datalayer's threads share db's)
    try:
        since = store.last_change_id()
        timer = threading.Timer(0.5, lambda: db.apply(ObjectModel("second", object=shout)))
        timer.start()
        started = time.monotonic()
        assert store.wait_for_changes(WAIT) is True  # True: a change stream (False is the polling answer)
        assert 0.2 < time.monotonic() - started < WAIT / 3, "the wait did not wait for the event, or slept through it"
        timer.join()
        assert _within(WAIT / 3, lambda: [e.identifier for e in store.changes(since)] == ["second"])
    finally:
        store.close()


def _within(seconds: float, condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_change_feed_wait_lasts_what_each_call_asks(db, replica_set) -> None:
    store = MongoMetadataStore(open_connection(replica_set.uri))
    try:
        assert store.wait_for_changes(0.05) is True  # opens the stream with a 50 ms wait
        started = time.monotonic()
        assert store.wait_for_changes(0.5) is True
        assert time.monotonic() - started > 0.4, "the second wait kept the first one's 50 ms"
        db.apply(ObjectModel("third", object=shout))
        started = time.monotonic()
        store.wait_for_changes(WAIT)
        assert time.monotonic() - started < WAIT / 3, "an event written between waits was missed"
    finally:
        store.close()
