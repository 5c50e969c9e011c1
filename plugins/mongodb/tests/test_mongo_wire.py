"""ObjectIds cross the broker (a listener's back-fill ranges on workers, a model's inputs and outputs)."""

from __future__ import annotations

from bson import ObjectId

from superlite.serialization.wire import CODEC


def test_an_object_id_round_trips_through_the_wire_codec() -> None:
    ids = [ObjectId(), ObjectId()]
    text = CODEC.dumps({"after": ids[0], "last": ids})
    assert '"bson.objectid"' in text
    assert CODEC.loads(text) == {"after": ids[0], "last": ids}
    assert "bson.objectid" in CODEC.wire_types()
