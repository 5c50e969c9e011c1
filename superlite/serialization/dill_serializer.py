"""Arbitrary Python callables and objects, serialized with dill.

dill stores functions and classes defined in ``__main__`` (scripts, notebooks) by value, so a
model defined there can be loaded by another process. Objects from importable modules are
stored by reference to their import path, as pickle does.
"""

from __future__ import annotations

from typing import BinaryIO

import dill

from superlite.errors import SerializationError
from superlite.serialization.serializers import Serializer


class DillSerializer(Serializer):
    """Serializer for any picklable-by-dill object."""

    name = "dill"

    def dump(self, obj: object, file: BinaryIO) -> None:
        """Write ``obj`` with dill, recursing into globals of ``__main__`` functions."""
        try:
            dill.dump(obj, file, recurse=True)
        except Exception as exc:
            raise SerializationError(f"dill cannot serialize {type(obj).__qualname__}: {exc}") from exc

    def load(self, file: BinaryIO) -> object:
        """Read an object written by :meth:`dump`."""
        try:
            return dill.load(file)
        except (ImportError, AttributeError) as exc:
            raise SerializationError(
                f"the stored object refers to code that cannot be imported here: {exc}. "
                f"Install or move back that code, or re-apply the model."
            ) from exc
