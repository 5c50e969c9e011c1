"""The ``torch_state_dict`` serializer: tensors written by ``torch.save``, read with ``weights_only``.

Writing streams: ``torch.save`` hands each tensor's memory to the file as a view (no copy), and
this serializer passes it on in slices, so a spooling file can move to disk before it ever holds
a large tensor in memory. Reading uses ``torch.load(weights_only=True)``, which rebuilds tensors,
dicts and numbers and refuses anything else, so a tampered artifact cannot run code. When the
file it is given lives on disk (the datalayer verifies large artifacts of this serializer into an
unlinked temporary file: ``maps_files``), the tensors are memory-mapped from it instead of copied.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import BinaryIO

import torch

from superlite.errors import SerializationError
from superlite.serialization.serializers import Serializer

#: Largest single write passed to the target file.
WRITE_SLICE = 8 * 1024 * 1024


class StateDictSerializer(Serializer):
    """Serializer for a ``state_dict``: a mapping of names to tensors (and plain extra state)."""

    name = "torch_state_dict"
    shareable = True
    maps_files = True

    def dump(self, obj: object, file: BinaryIO) -> None:
        """Write the state_dict ``obj`` with ``torch.save``, straight into ``file``."""
        if not isinstance(obj, Mapping):
            raise SerializationError(f"torch_state_dict stores a state_dict (a mapping of names to tensors), not a {type(obj).__qualname__}")
        for key, value in obj.items():
            if not _is_plain(value):
                raise SerializationError(
                    f"state_dict entry {key!r} holds a {type(value).__qualname__}: only tensors, numbers, strings "
                    f"and lists/dicts of them load back without unpickling code. Make the module's "
                    f"get_extra_state() return such plain values."
                )
        torch.save(obj, _SlicingWriter(file))

    def load(self, file: BinaryIO) -> object:
        """Read a state_dict written by :meth:`dump`; refuse anything that is not plain tensors."""
        path = _disk_path(file)
        try:
            if path is not None:
                return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            return torch.load(file, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise SerializationError(
                f"refused to load the stored state_dict: torch.load(weights_only=True) rejected it. The artifact "
                f"holds something other than tensors (possibly code smuggled into the pickle), or is not a "
                f"torch.save file at all. Nothing from it was executed. Cause: {_reason(exc)}"
            ) from exc


class _SlicingWriter:
    """Passes writes on to a file in slices of at most :data:`WRITE_SLICE` bytes (views, no copies)."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target

    def write(self, data: bytes) -> int:
        view = memoryview(data).cast("B")
        for start in range(0, view.nbytes, WRITE_SLICE):
            self._target.write(view[start : start + WRITE_SLICE])
        return view.nbytes

    def flush(self) -> None:
        self._target.flush()


def _is_plain(value: object) -> bool:
    """Whether ``value`` is made only of what ``weights_only`` loading rebuilds."""
    if value is None or isinstance(value, (torch.Tensor, str, bytes, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, (str, int)) and _is_plain(item) for key, item in value.items())
    return False


def _disk_path(file: BinaryIO) -> str | None:
    """A path that maps ``file`` when it is an unlinked temporary file on disk, else None.

    A :class:`tempfile.SpooledTemporaryFile` keeps its current storage in the documented ``_file``
    attribute: a ``BytesIO`` while small, an unnamed temporary file once rolled over (asking the
    spooled file itself for ``fileno()`` would force it onto disk, so it is not asked). Only an
    unnamed file is mapped: no other path leads to it, so its bytes cannot change under the
    tensors after the datalayer verified them.
    """
    inner = getattr(file, "_file", file)
    if not isinstance(getattr(inner, "name", None), int):
        return None
    path = f"/proc/self/fd/{inner.fileno()}"
    if not os.path.exists(path):
        return None
    inner.flush()
    return path


#: Lines of torch's refusal message that give advice rather than the reason.
_BOILERPLATE = ("Weights only load failed", "Please file an issue", "Check the documentation")


def _reason(exc: BaseException) -> str:
    """The line of torch's error that says what was refused, without its advice to trust the file."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(_BOILERPLATE)]
    return f"{type(exc).__name__}: {useful[0] if useful else (lines[0] if lines else '')}"
