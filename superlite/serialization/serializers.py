"""Artifact serializers: how one field of a component becomes bytes in the artifact store.

A serializer writes an object to a binary file and reads it back. Built-ins are found by
import string (so numpy loads only when used); plugins add their own through the
``superlite.serializers`` entry-point group (``name = "pkg.module:SerializerClass"``), as the
torch plugin does for ``state_dict`` storage.
"""

from __future__ import annotations

import abc
from functools import cache
from typing import BinaryIO, ClassVar

from superlite.errors import SerializationError
from superlite.extensions import ExtensionPoint

SERIALIZERS = ExtensionPoint(
    "superlite.serializers",
    {
        "dill": "superlite.serialization.dill_serializer:DillSerializer",
        "numpy": "superlite.serialization.numpy_serializer:NumpySerializer",
    },
)


class Serializer(abc.ABC):
    """Writes one kind of object to a binary file and reads it back."""

    #: The name stored with each artifact, so the same serializer reads it back.
    name: str
    #: Whether one loaded object may serve every component of a process stored with the same
    #: bytes (read-only weights; see :mod:`superlite.registry.shared`). Not for code or state.
    shareable: ClassVar[bool] = False
    #: Whether :meth:`load` memory-maps the file it is given when that file is on disk: large
    #: artifacts are then verified into an unlinked temporary file instead of memory.
    maps_files: ClassVar[bool] = False

    @abc.abstractmethod
    def dump(self, obj: object, file: BinaryIO) -> None:
        """Write ``obj`` to ``file`` (which may be large: stream, don't build one big bytes)."""

    @abc.abstractmethod
    def load(self, file: BinaryIO) -> object:
        """Read back what :meth:`dump` wrote. ``file`` is seekable and already verified."""


@cache
def get_serializer(name: str) -> Serializer:
    """The serializer registered as ``name`` (built-in or from a plugin)."""
    try:
        cls = SERIALIZERS.find(name)
    except ImportError as exc:
        raise SerializationError(f"serializer {name!r} cannot be imported ({exc}); install its plugin") from exc
    if cls is None:
        raise SerializationError(
            f"no serializer named {name!r} is installed; installed: {', '.join(sorted(SERIALIZERS.names()))}. "
            f"Install the plugin that provides it (for example `pip install superlite[torch]`)."
        )
    return cls()
