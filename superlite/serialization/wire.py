"""The broker codec: how task arguments and results travel to and from Celery workers.

Nothing crosses the broker as pickle. A message is JSON; values JSON cannot carry are written
as *tagged objects*, ``{"__sl__": <tag>, ...}``:

==============  ===============================================================================
tag             value
==============  ===============================================================================
``bytes``       ``bytes``, ``bytearray``, ``memoryview`` (come back as ``bytes``): ``"v"`` base64
``tuple``       ``tuple``: ``"v"`` the list of its items
``dict``        a dict with a non-string key, or one with the key ``"__sl__"`` itself:
                ``"v"`` the list of ``[key, value]`` pairs
``ndarray``     numpy array of any non-object, non-structured dtype: ``"dtype"`` (``dtype.str``,
                byte order included), ``"shape"``, ``"v"`` the raw C-order bytes in base64
``ndscalar``    numpy scalar (``np.int64(3)``, ``np.float32(1.5)``, ...), same fields, no shape
==============  ===============================================================================

Floats that are subclasses of ``float`` (``np.float64``) travel as plain JSON numbers, and
other subclasses of ``int``/``str`` as their base value. Anything else raises
:class:`~superlite.errors.SerializationError` naming the type and where in the value it sat.

Extension hook (the torch plugin uses it)
-----------------------------------------
A package teaches the codec a new type by exposing a :class:`WireType` through the entry-point
group ``superlite.wire_types``; the entry point's *name* is the tag::

    # pyproject.toml of the plugin
    [project.entry-points."superlite.wire_types"]
    "torch.tensor" = "superlite_torch.wire:TENSOR"

    # superlite_torch/wire.py -- must not import torch at module level
    from superlite.serialization.wire import WireType

    def _encode(tensor):            # return any value the codec carries (here: a numpy array)
        return tensor.detach().cpu().numpy()

    def _decode(array):             # receives what _encode returned, already decoded
        import torch
        return torch.from_numpy(array)

    TENSOR = WireType(tag="torch.tensor", types=("torch:Tensor",), encode=_encode, decode=_decode)

``types`` holds classes, or ``"module:QualName"`` strings that are resolved only when that
module is already imported (an object cannot be a ``torch.Tensor`` while torch is not loaded),
so the codec never imports a heavy library just to find out that it does not need it.
Entry points are read once, the first time the codec meets a type or a tag it does not know.
``encode`` may return bytes, numpy arrays, tuples or nested containers: its value is encoded by
the same codec, and ``decode`` receives it decoded. ``WireCodec(extra=[...])`` builds a codec
with extra types without any entry point (useful in tests).

The codec is registered with kombu as serializer :data:`SERIALIZER` (content type
:data:`CONTENT_TYPE`) by :func:`register_kombu_serializer`; superlite's Celery app makes it the
only content type its workers and callers accept.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from superlite.common.imports import find_loaded
from superlite.errors import SerializationError
from superlite.extensions import ExtensionPoint

#: Entry-point group through which plugins register :class:`WireType` objects.
GROUP = "superlite.wire_types"

#: The wire types plugins register (none are built in: built-in types are handled by the codec).
WIRE_TYPES = ExtensionPoint(GROUP, {})

#: Name of the kombu serializer (``task_serializer`` / ``result_serializer`` in Celery).
SERIALIZER = "superlite-json"

#: Content type of messages written by this codec.
CONTENT_TYPE = "application/x-superlite+json"

#: The key that marks a tagged object.
TAG = "__sl__"

_PLAIN = (str, int, float, bool, type(None))
_SUPPORTED = "JSON values (str, int, float, bool, None, list, dict), bytes, tuples, numpy arrays and scalars"


@dataclass(frozen=True)
class WireType:
    """How the codec carries one extra type; see "Extension hook" in the module docstring.

    ``types``: classes, or ``"module:QualName"`` strings checked only once that module is
    imported. ``encode(obj)`` returns a value the codec can carry; ``decode(value)`` rebuilds
    the object from it.
    """

    tag: str
    types: tuple[type | str, ...]
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]

    def resolved_types(self) -> tuple[type, ...]:
        """The classes in ``types`` that exist in this process now (without importing anything)."""
        found = (entry if isinstance(entry, type) else find_loaded(entry) for entry in self.types)
        return tuple(target for target in found if isinstance(target, type))


class _Unsupported(Exception):
    """Raised at the value the codec cannot carry; parents prepend their position to ``path``."""

    def __init__(self, value: object, reason: str = "") -> None:
        self.value = value
        self.reason = reason
        self.path: list[str] = []


@dataclass(frozen=True, repr=False)
class PreEncoded:
    """A value already turned into a JSON tree by :meth:`WireCodec.to_json_value`.

    The codec writes the tree as it is, so a worker can encode a result inside its task (and
    report an unsupported type as an error) without the result being walked twice.
    """

    tree: Any

    def __repr__(self) -> str:
        """The tree's type, not its content: Celery takes the repr of every task's return value
        (even when it does not log it), and a worker logs results itself, at DEBUG."""
        return f"PreEncoded(<{type(self.tree).__name__}>)"


def _type_name(value: object) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _b64(data: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(data).decode("ascii")


class WireCodec:
    """Encodes values to JSON text (:meth:`dumps`) and back (:meth:`loads`); see the module docstring."""

    def __init__(self, extra: Iterable[WireType] = (), *, use_entry_points: bool = True) -> None:
        self._by_tag: dict[str, WireType] = {w.tag: w for w in extra}
        self._entry_points_loaded = not use_entry_points
        self._lock = threading.Lock()

    # -- extension types -----------------------------------------------------------------------

    def _load_entry_points(self) -> None:
        with self._lock:
            if self._entry_points_loaded:
                return
            try:
                loaded = WIRE_TYPES.load_all()
            except Exception as exc:
                raise SerializationError(f"a wire type of entry-point group {GROUP!r} cannot be loaded: {exc}") from exc
            for tag, wire_type in loaded.items():
                if not isinstance(wire_type, WireType) or wire_type.tag != tag:
                    raise SerializationError(f"entry point {tag!r} in group {GROUP} must be a WireType with tag {tag!r}")
                self._by_tag.setdefault(tag, wire_type)
            self._entry_points_loaded = True

    def wire_types(self) -> list[str]:
        """Tags of every extension type this codec knows (entry points included)."""
        self._load_entry_points()
        return sorted(self._by_tag)

    def _extension_for(self, value: object) -> WireType | None:
        found = self._match(value)
        if found is None and not self._entry_points_loaded:
            self._load_entry_points()
            found = self._match(value)
        return found

    def _match(self, value: object) -> WireType | None:
        for wire_type in list(self._by_tag.values()):
            if isinstance(value, wire_type.resolved_types()):
                return wire_type
        return None

    # -- encoding ------------------------------------------------------------------------------

    def to_json_value(self, value: object) -> Any:
        """``value`` as a tree of plain JSON values (tagged objects where needed)."""
        try:
            return self._encode(value)
        except _Unsupported as exc:
            where = "".join(reversed(exc.path)) or "the value itself"
            reason = f" ({exc.reason})" if exc.reason else ""
            raise SerializationError(
                f"cannot send a value of type {_type_name(exc.value)}{reason} over the broker (at {where}): the wire codec carries "
                f"{_SUPPORTED}, and types registered through the {GROUP!r} entry-point group. Convert it to one "
                f"of those (for example list(...) or numpy.asarray(...)) or register a WireType for it."
            ) from None

    def to_plain_json(self, value: object) -> Any:
        """``value`` as plain JSON for people and other programs (no tags, not reversible).

        numpy arrays, torch tensors and anything else with ``tolist()`` become nested lists, numpy scalars numbers,
        tuples lists, sets and frozensets sorted lists, bytes base64 text, dict keys text;
        anything else its ``str()``. ``superlite predict`` prints results this way.
        """
        cls = type(value)
        if cls in _PLAIN:
            return value
        if isinstance(value, dict):
            return {key if type(key) is str else str(key): self.to_plain_json(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.to_plain_json(item) for item in value]
        if isinstance(value, (set, frozenset)):
            items = [self.to_plain_json(item) for item in value]
            try:
                return sorted(items)
            except TypeError:
                return sorted(items, key=repr)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return _b64(value)
        for base in (float, int, str):
            if isinstance(value, base):
                return base(value)
        tolist = getattr(value, "tolist", None)
        if callable(tolist):
            return self.to_plain_json(tolist())
        return str(value)

    def dumps(self, value: object) -> str:
        """JSON text for ``value``; raises :class:`SerializationError` naming an unsupported type."""
        return json.dumps(self.to_json_value(value), separators=(",", ":"))

    def _encode(self, value: object) -> Any:
        cls = type(value)
        if cls in _PLAIN:
            return value
        if cls is list:
            return self._encode_items(value)  # type: ignore[arg-type]
        if cls is dict:
            return self._encode_dict(value)  # type: ignore[arg-type]
        if cls is tuple:
            return {TAG: "tuple", "v": self._encode_items(value)}  # type: ignore[arg-type]
        if cls in (bytes, bytearray):
            return {TAG: "bytes", "v": _b64(value)}  # type: ignore[arg-type]
        if cls is PreEncoded:
            return value.tree  # type: ignore[attr-defined]
        return self._encode_other(value)

    def _encode_items(self, items: Sequence[object]) -> list[Any]:
        encode = self._encode
        out = []
        for index, item in enumerate(items):
            try:
                out.append(encode(item))
            except _Unsupported as exc:
                exc.path.append(f"[{index}]")
                raise
        return out

    def _encode_dict(self, mapping: dict[Any, Any]) -> Any:
        if TAG not in mapping and all(type(key) is str for key in mapping):
            out = {}
            for key, item in mapping.items():
                try:
                    out[key] = self._encode(item)
                except _Unsupported as exc:
                    exc.path.append(f"[{key!r}]")
                    raise
            return out
        pairs = []
        for key, item in mapping.items():
            try:
                pairs.append([self._encode(key), self._encode(item)])
            except _Unsupported as exc:
                exc.path.append(f"[{key!r}]")
                raise
        return {TAG: "dict", "v": pairs}

    def _encode_other(self, value: object) -> Any:
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
            return _encode_numpy(numpy, value)
        for base in (float, int, str, list, tuple, dict):
            if isinstance(value, base):
                return self._encode(base(value))  # type: ignore[call-overload]
        if isinstance(value, memoryview):
            return {TAG: "bytes", "v": _b64(value.tobytes())}
        wire_type = self._extension_for(value)
        if wire_type is None:
            raise _Unsupported(value)
        return {TAG: wire_type.tag, "v": self._encode(wire_type.encode(value))}

    # -- decoding ------------------------------------------------------------------------------

    def loads(self, text: str | bytes) -> Any:
        """The value :meth:`dumps` encoded as ``text``."""
        try:
            return json.loads(text, object_hook=self._decode_tagged)
        except ValueError as exc:
            raise SerializationError(f"message is not valid {SERIALIZER} JSON: {exc}") from exc

    def _decode_tagged(self, obj: dict[str, Any]) -> Any:
        tag = obj.get(TAG)
        if tag is None:
            return obj
        if tag == "tuple":
            return tuple(obj["v"])
        if tag == "bytes":
            return base64.b64decode(obj["v"])
        if tag == "dict":
            return {_hashable(key): value for key, value in obj["v"]}
        if tag in ("ndarray", "ndscalar"):
            return _decode_numpy(obj)
        wire_type = self._by_tag.get(tag)
        if wire_type is None:
            self._load_entry_points()
            wire_type = self._by_tag.get(tag)
        if wire_type is None:
            raise SerializationError(
                f"received a value tagged {tag!r}, which no installed wire type decodes; install the plugin "
                f"that provides it (entry-point group {GROUP!r}) on this side too"
            )
        return wire_type.decode(obj["v"])


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def _encode_numpy(numpy: Any, value: Any) -> dict[str, Any]:
    dtype = value.dtype
    if dtype.hasobject:
        raise _Unsupported(value, f"dtype {dtype} holds Python objects, which would need pickle")
    if dtype.fields is not None:
        raise _Unsupported(value, f"structured dtype {dtype} is not supported")
    if isinstance(value, numpy.ndarray):
        array = value if value.flags.c_contiguous else value.copy(order="C")
        raw = array.reshape(-1).view(numpy.uint8)
        return {TAG: "ndarray", "dtype": dtype.str, "shape": list(array.shape), "v": _b64(raw)}  # type: ignore[arg-type]
    return {TAG: "ndscalar", "dtype": dtype.str, "v": _b64(value.tobytes())}


def _decode_numpy(obj: dict[str, Any]) -> Any:
    import numpy

    dtype = numpy.dtype(obj["dtype"])
    if dtype.hasobject:
        raise SerializationError(f"refusing a numpy value of object dtype {obj['dtype']!r} (it would need pickle)")
    data = bytearray(base64.b64decode(obj["v"]))
    if obj[TAG] == "ndscalar":
        return numpy.frombuffer(data, dtype=dtype)[0]
    return numpy.frombuffer(data, dtype=dtype).reshape(obj["shape"])


#: The codec used on the broker: built-in types plus every installed ``superlite.wire_types`` entry point.
CODEC = WireCodec()


def dumps(value: object) -> str:
    """Encode ``value`` with the default codec (:data:`CODEC`)."""
    return CODEC.dumps(value)


def loads(text: str | bytes) -> Any:
    """Decode ``text`` with the default codec (:data:`CODEC`)."""
    return CODEC.loads(text)


def register_kombu_serializer() -> None:
    """Make the default codec available to kombu (and so Celery) as :data:`SERIALIZER`.

    Idempotent; called by superlite's Celery app, so users never need to call it.
    """
    from kombu.serialization import register

    register(SERIALIZER, dumps, loads, content_type=CONTENT_TYPE, content_encoding="utf-8")
