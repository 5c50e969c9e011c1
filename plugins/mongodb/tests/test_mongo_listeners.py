"""Listeners on MongoDB collections (mongomock: the polling path), documents written by the client directly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from superlite_mongodb.connection import forget_mongomock, open_connection

import superlite
from superlite import Listener, ObjectModel


@pytest.fixture
def mongo() -> Iterator[tuple[superlite.Datalayer, object]]:
    """A Datalayer on a fresh mongomock database, and that database as the application sees it."""
    name = f"listen-{uuid.uuid4().hex[:8]}"
    uri = f"mongomock://{name}"
    with superlite.connect(uri, broker=None) as db:
        connection = open_connection(uri)
        yield db, connection.database
    forget_mongomock(name)


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


def test_new_version_recomputes_and_remove_drops_outputs(mongo) -> None:
    db, database = mongo
    database.reviews.insert_many([{"_id": i, "text": t} for i, t in enumerate(["a", "boom"])])
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout@latest", table="reviews", key="text"))
    db.apply(ObjectModel("length", object=len))
    db.apply(Listener("size", model="length", table="_outputs__loud", key="output"))
    assert db.outputs("size") == {0: 1}
    db.apply(ObjectModel("shout", object=lambda text: text.upper() + "!"))
    assert db.catch_up("loud") == {"computed": 2, "failed": 0, "deleted": 0, "model_version": 1}
    db.catch_up("size")
    assert db.outputs("size") == {0: 2, 1: 5}
    assert {doc["model_version"] for doc in database["_outputs__loud"].find()} == {1}

    db.remove("listener", "size", keep_outputs=True)
    db.remove("listener", "loud")
    assert "_outputs__loud" not in database.list_collection_names()
    assert database["_outputs__size"].count_documents({}) == 2
