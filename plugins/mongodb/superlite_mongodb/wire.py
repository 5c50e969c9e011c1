"""How a BSON ``ObjectId`` crosses the broker: as its 24-digit hex string, rebuilt on arrival.

MongoDB documents are identified by ObjectIds by default, so a listener's back-fill on workers
hands out ranges of them, and a model may take or return them. Registered through the
``superlite.wire_types`` entry-point group (tag ``bson.objectid``); bson is imported only to
rebuild one, since an object cannot be an ObjectId unless bson is loaded already.
"""

from __future__ import annotations

from typing import Any

from superlite.serialization.wire import WireType


def _decode(text: str) -> Any:
    from bson import ObjectId

    return ObjectId(text)


OBJECT_ID = WireType(tag="bson.objectid", types=("bson.objectid:ObjectId",), encode=str, decode=_decode)
