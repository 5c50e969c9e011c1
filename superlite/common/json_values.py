"""JSON values: what a record's parameters, a change's payload and a CLI's output may hold.

One definition for every place that stores or prints JSON: ``None``, ``bool``, ``int``, finite
``float``, ``str``, lists (tuples read back as lists) and dicts with string keys. NaN and the
infinities are refused, because strict JSON (and every database's JSON type) has no spelling
for them; so are integers beyond 64 bits (MongoDB cannot hold them) and strings with lone
surrogates (not Unicode text, so no database can encode them), and keys with a NUL character
(MongoDB cannot store them), so every store keeps the same values.
"""

from __future__ import annotations

import math

from superlite.errors import SerializationError

_SCALARS = (str, int, bool, type(None))


def json_value(value: object, where: str, hint: str = "") -> object:
    """``value`` as plain JSON (tuples become lists).

    Raises :class:`SerializationError` naming ``where`` (and the position inside it) when it is
    not; ``hint`` is added to the message.
    """
    try:
        return _convert(value)
    except _NotJson as exc:
        path = "".join(reversed(exc.path))
        raise SerializationError(
            f"{where}{path} holds {exc.reason}, which is not a JSON value (JSON values are None, bool, int, "
            f"finite float, str, lists and dicts with str keys){hint}"
        ) from None


def is_json_value(value: object) -> bool:
    """Whether ``value`` is a JSON value (see the module docstring)."""
    try:
        _convert(value)
    except _NotJson:
        return False
    return True


class _NotJson(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.path: list[str] = []


#: The integers every store holds (MongoDB's BSON has nothing wider than 64 bits).
_INT_RANGE = range(-(2**63), 2**63)


def _convert(value: object) -> object:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT_RANGE:
        raise _NotJson(f"the int {value}, outside the signed 64-bit range every store holds")
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _NotJson(f"the float {value!r}")
        return value
    if isinstance(value, (list, tuple)):
        return [_item(item, f"[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise _NotJson(f"the non-string key {key!r}")
            if "\x00" in _text(key):
                raise _NotJson(f"the key {key!r} with a NUL character (MongoDB cannot store it)")
        return {key: _item(item, f"[{key!r}]") for key, item in value.items()}
    raise _NotJson(f"a {type(value).__qualname__}")


def _item(value: object, position: str) -> object:
    try:
        return _convert(value)
    except _NotJson as exc:
        exc.path.append(position)
        raise


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _NotJson(f"the str {value!r} with a lone surrogate (not Unicode text)") from None
    return value
