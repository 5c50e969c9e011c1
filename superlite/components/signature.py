"""Input/output signatures of models: a small JSON description of what a model takes and returns.

A signature is ``{"input": <spec>, "output": <spec>}``; a spec is a JSON object with a ``type``:

* ``"null"``, ``"boolean"``, ``"integer"``, ``"number"`` (an integer fits), ``"string"``, ``"bytes"``;
* ``"array"`` with ``items`` (the spec of every item; absent when any item goes);
* ``"object"`` with ``properties`` (each key that must be there, and its spec);
* ``"tensor"`` (a numpy array or anything with ``dtype`` and ``shape``) with ``dtype`` and ``ndim``;
* ``"any"``.

:func:`infer` describes an example value; :func:`check` raises :class:`InvalidArgumentError`
naming the first place where a value does not fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from superlite.errors import ArgumentTypeError, InvalidArgumentError

TYPES = frozenset({"null", "boolean", "integer", "number", "string", "bytes", "array", "object", "tensor", "any"})


def infer(value: object) -> dict[str, Any]:
    """The spec of ``value`` (lists by their first item, dicts by their keys)."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, (bytes, bytearray)):
        return {"type": "bytes"}
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return {"type": "tensor", "dtype": str(value.dtype).removeprefix("torch."), "ndim": len(value.shape)}
    if isinstance(value, Mapping):
        return {"type": "object", "properties": {str(k): infer(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"type": "array", **({"items": infer(value[0])} if value else {})}
    return {"type": "any"}


def check_signature(signature: object, owner: str) -> dict[str, Any]:
    """``signature`` if it is ``{"input": spec, "output": spec}`` with known types; else ArgumentTypeError."""
    if not isinstance(signature, Mapping) or set(signature) - {"input", "output"}:
        raise ArgumentTypeError(f"{owner}: a signature is a dict with 'input' and/or 'output' specs, not {signature!r}")
    for part, spec in signature.items():
        _check_spec(spec, f"{owner}: signature {part}")
    return dict(signature)


def _check_spec(spec: object, where: str) -> None:
    if not isinstance(spec, Mapping) or spec.get("type") not in TYPES:
        raise ArgumentTypeError(f"{where}: a spec is a dict whose 'type' is one of {sorted(TYPES)}, not {spec!r}")
    if "items" in spec:
        _check_spec(spec["items"], f"{where} items")
    for key, inner in (spec.get("properties") or {}).items():
        _check_spec(inner, f"{where}.{key}")


def check(value: object, spec: Mapping[str, Any], where: str = "input") -> None:
    """Raise :class:`InvalidArgumentError` when ``value`` does not fit ``spec``, naming the place."""
    kind = spec["type"]
    if kind == "any" or (kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool)):
        return
    if infer(value)["type"] != kind:
        raise InvalidArgumentError(f"{where}: expected {kind}, got {infer(value)['type']} ({_short(value)})")
    if kind == "tensor":
        for key in ("dtype", "ndim"):
            if key in spec and infer(value)[key] != spec[key]:
                raise InvalidArgumentError(f"{where}: expected {key} {spec[key]}, got {infer(value)[key]}")
    elif kind == "array" and "items" in spec:
        for i, item in enumerate(value):  # type: ignore[attr-defined]
            check(item, spec["items"], f"{where}[{i}]")
    elif kind == "object":
        for key, inner in (spec.get("properties") or {}).items():
            if key not in value:  # type: ignore[operator]
                raise InvalidArgumentError(f"{where}: missing key {key!r}")
            check(value[key], inner, f"{where}.{key}")  # type: ignore[index]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
