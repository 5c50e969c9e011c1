"""Artifact serializers: how one field of a component becomes bytes in the artifact store.

A serializer writes an object to a binary file and reads it back. Built-ins are found by
import string (so numpy loads only when used); plugins add their own through the
``superlite.serializers`` entry-point group (``name = "pkg.module:SerializerClass"``), as the
torch plugin does for ``state_dict`` storage.
"""

from __future__ import annotations

import abc
import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import BinaryIO

from superlite.errors import SerializationError

GROUP = "superlite.serializers"

BUILTIN_SERIALIZERS = {
    "dill": "superlite.serialization.dill_serializer:DillSerializer",
    "numpy": "superlite.serialization.numpy_serializer:NumpySerializer",
}


class Serializer(abc.ABC):
    """Writes one kind of object to a binary file and reads it back."""

    #: The name stored with each artifact, so the same serializer reads it back.
    name: str

    @abc.abstractmethod
    def dump(self, obj: object, file: BinaryIO) -> None:
        """Write ``obj`` to ``file`` (which may be large: stream, don't build one big bytes)."""

    @abc.abstractmethod
    def load(self, file: BinaryIO) -> object:
        """Read back what :meth:`dump` wrote. ``file`` is seekable and already verified."""


@cache
def _plugin_serializers() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


@cache
def get_serializer(name: str) -> Serializer:
    """The serializer registered as ``name`` (built-in or from a plugin)."""
    table = {**BUILTIN_SERIALIZERS, **_plugin_serializers()}
    if name not in table:
        raise SerializationError(
            f"no serializer named {name!r} is installed; installed: {', '.join(sorted(table))}. "
            f"Install the plugin that provides it (for example `pip install superlite[torch]`)."
        )
    module, _, attr = table[name].partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise SerializationError(f"serializer {name!r} cannot be imported ({exc}); install its plugin") from exc
    return cls()
