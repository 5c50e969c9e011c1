"""Listeners on MongoDB collections (mongomock: the polling path), documents written by the client directly.

The shared listener contract (superlite.testing.listener_contract) runs here; the tests after
it are about MongoDB alone (dotted keys, filters).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import mongomock
import pytest
from mongo_support import MongoRows
from superlite_mongodb.connection import forget_mongomock, open_connection

import superlite
from superlite import Listener, ObjectModel
from superlite.testing.listener_contract import ListenerContract


@pytest.fixture
def mongo() -> Iterator[tuple[superlite.Datalayer, object]]:
    """A Datalayer on a fresh mongomock database, and that database as the application sees it."""
    name = f"listen-{uuid.uuid4().hex[:8]}"
    uri = f"mongomock://{name}"
    with superlite.connect(uri, broker=None) as db:
        connection = open_connection(uri)
        yield db, connection.database
    forget_mongomock(name)


class TestMongoSourcesListen(ListenerContract):
    """The shared listener contract on mongomock collections."""

    @pytest.fixture
    def db(self, mongo) -> superlite.Datalayer:
        return mongo[0]

    @pytest.fixture
    def rows(self, mongo) -> MongoRows:
        return MongoRows(mongo[1])


def shout(text: str) -> str:
    if text == "boom":
        raise ValueError("no booms")
    return text.upper()


def test_documents_inserted_updated_deleted_and_filtered(mongo) -> None:
    db, database = mongo
    database.reviews.insert_many([{"_id": 1, "review": {"text": "good"}, "stars": 5}, {"_id": 2, "review": {"text": "bad"}, "stars": 1}])
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="review.text", where={"stars": {"$gte": 1}}))
    assert db.outputs("loud") == {1: "GOOD", 2: "BAD"}

    database.reviews.insert_one({"_id": 3, "review": {"text": "boom"}, "stars": 2})
    database.reviews.update_one({"_id": 2}, {"$set": {"review.text": "worse"}})
    database.reviews.update_one({"_id": 1}, {"$set": {"stars": 0}})  # leaves the filter
    counts = db.catch_up("loud")
    assert counts["computed"] == 1 and counts["failed"] == 1 and counts["deleted"] == 1
    assert db.outputs("loud") == {2: "WORSE"}
    assert db.listener_errors("loud") == {3: "ValueError: no booms"}
    assert db.catch_up("loud")["computed"] == 0

    database.reviews.delete_one({"_id": 2})
    db.catch_up("loud")
    assert db.outputs("loud") == {}
    assert database["_outputs__loud"].count_documents({}) == 0


def test_a_batch_of_outputs_and_errors_is_written_in_one_bulk_write_each(mongo, monkeypatch) -> None:
    db, database = mongo
    database.reviews.insert_many([{"_id": i, "text": "boom" if i % 3 == 0 else f"t{i}"} for i in range(7)])
    db.apply(ObjectModel("shout", object=shout))
    writes: list[tuple[str, int]] = []
    bulk_write = mongomock.Collection.bulk_write

    def counted(collection: mongomock.Collection, requests: list, **options: object) -> object:
        writes.append((collection.name, len(requests)))
        return bulk_write(collection, requests, **options)

    monkeypatch.setattr(mongomock.Collection, "bulk_write", counted)
    db.apply(Listener("loud", model="shout", table="reviews", key="text", batch_size=4))
    assert writes == [("_outputs__loud", 2), ("_superlite_listener_errors", 2), ("_outputs__loud", 2), ("_superlite_listener_errors", 1)]
    assert db.outputs("loud") == {1: "T1", 2: "T2", 4: "T4", 5: "T5"}
    assert set(db.listener_errors("loud")) == {0, 3, 6}
