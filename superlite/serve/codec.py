"""Tensors of the Open Inference Protocol (KServe V2) to numpy arrays and back.

A request tensor is ``{name, shape, datatype, data}``: ``data`` holds the elements in row-major
order, flat or nested. :func:`decode_tensor` checks that the element count matches the shape and
that every element fits the datatype, and returns an array of that shape (``BYTES`` tensors
become arrays of ``str``, objects). :func:`encode_output` goes the other way for whatever a
model returned: arrays, numbers, booleans, strings and (nested) lists of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Each OIP datatype and the numpy dtype that holds it (BYTES: Python ``str`` objects).
DATATYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}

_INTEGER = {name for name in DATATYPES if "INT" in name}
_FLOAT = {"FP16", "FP32", "FP64"}


class TensorError(ValueError):
    """A tensor does not match its declared shape or datatype (the client's mistake: HTTP 400)."""


@dataclass(frozen=True)
class Tensor:
    """One named tensor of a response: ``shape``, OIP ``datatype`` and row-major flat ``data``."""

    name: str
    shape: list[int]
    datatype: str
    data: list[Any]

    def to_dict(self) -> dict[str, Any]:
        """The tensor as the protocol's JSON object."""
        return {"name": self.name, "shape": self.shape, "datatype": self.datatype, "data": self.data}


def _flatten(data: Any, out: list[Any]) -> None:
    if isinstance(data, list):
        for item in data:
            _flatten(item, out)
    else:
        out.append(data)


def _check_element(name: str, datatype: str, value: Any) -> None:
    if datatype == "BOOL":
        ok = isinstance(value, bool)
    elif datatype == "BYTES":
        ok = isinstance(value, str)
    elif datatype in _INTEGER:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok:
            info = np.iinfo(DATATYPES[datatype])
            if not info.min <= value <= info.max:
                raise TensorError(f"input {name!r}: {value} is out of range for {datatype} ({info.min}..{info.max})")
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and datatype == "FP16" and math.isfinite(value) and abs(value) > float(np.finfo(np.float16).max):
            raise TensorError(f"input {name!r}: {value} is out of range for FP16")
    if not ok:
        raise TensorError(f"input {name!r}: element {value!r} is not a valid {datatype} value")


def decode_tensor(name: str, shape: Sequence[int], datatype: str, data: Any) -> np.ndarray:
    """The array a request tensor describes; :class:`TensorError` when data, shape and datatype disagree."""
    if datatype not in DATATYPES:
        raise TensorError(f"input {name!r}: unknown datatype {datatype!r}; use one of {', '.join(DATATYPES)}")
    if any(dim < 0 for dim in shape):
        raise TensorError(f"input {name!r}: shape {list(shape)} has a negative dimension")
    flat: list[Any] = []
    _flatten(data, flat)
    expected = math.prod(shape)
    if len(flat) != expected:
        raise TensorError(f"input {name!r}: shape {list(shape)} holds {expected} elements, data has {len(flat)}")
    for value in flat:
        _check_element(name, datatype, value)
    array = np.empty(len(flat), dtype=DATATYPES[datatype])
    array[:] = flat
    return array.reshape(tuple(shape))


def _datatype_of(array: np.ndarray) -> str:
    kind = array.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iuf":
        for name, dtype in DATATYPES.items():
            if name != "BYTES" and array.dtype == np.dtype(dtype):
                return name
    if kind in "OUS":
        return "BYTES"
    raise TensorError(f"cannot send an array of dtype {array.dtype} as an Open Inference Protocol tensor")


def _plain(value: Any, datatype: str) -> Any:
    if datatype == "BYTES":
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        return value if isinstance(value, str) else str(value)
    if datatype in _FLOAT:
        number = float(value)
        if not math.isfinite(number):
            raise TensorError(f"output value {number} cannot be sent as JSON (not finite)")
        return number
    return value.item() if isinstance(value, np.generic) else value


def encode_output(name: str, value: Any, datatype: str | None = None) -> Tensor:
    """A response tensor holding ``value`` (an array, a number, a string, or nested lists of them).

    ``datatype`` forces the output datatype (the client asked for one); by default it follows
    the array's dtype, or numpy's reading of plain Python values (``int`` → INT64, ``float`` →
    FP64, ``str`` → BYTES).
    """
    try:
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
    except ValueError as exc:
        raise TensorError(f"output {name!r} is not a rectangular tensor: {exc}") from exc
    if array.dtype.kind == "O" and array.size and not all(isinstance(v, (str, bytes)) for v in array.flat):
        raise TensorError(f"output {name!r} of type {type(value).__qualname__} is not a tensor of numbers or strings")
    chosen = datatype or _datatype_of(array)
    if chosen not in DATATYPES:
        raise TensorError(f"unknown output datatype {chosen!r}; use one of {', '.join(DATATYPES)}")
    if chosen != "BYTES" and array.dtype.kind in "OUS":
        raise TensorError(f"output {name!r} holds strings; it cannot be sent as {chosen}")
    if chosen != "BYTES":
        array = array.astype(DATATYPES[chosen])
    flat = array.reshape(-1) if chosen == "BYTES" else array.reshape(-1).tolist()
    data = [_plain(v, chosen) for v in flat]
    return Tensor(name, list(array.shape), chosen, data)


def encode_outputs(result: Any, default_name: str = "output") -> list[Tensor]:
    """The response tensors of a model's result: one per key of a dict, else one named ``default_name``."""
    if isinstance(result, dict):
        return [encode_output(str(key), value) for key, value in result.items()]
    return [encode_output(default_name, result)]


def jsonable(value: Any) -> Any:
    """``value`` with numpy arrays and scalars turned into JSON-ready lists and numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
