"""numpy arrays in the ``.npy`` format, never pickled."""

from __future__ import annotations

from typing import BinaryIO

from superlite.serialization.serializers import Serializer


class NumpySerializer(Serializer):
    """Serializer for numpy arrays of non-object dtype (``allow_pickle=False`` both ways)."""

    name = "numpy"
    shareable = True

    def dump(self, obj: object, file: BinaryIO) -> None:
        """Write ``obj`` as ``.npy``."""
        import numpy as np

        np.save(file, np.asarray(obj), allow_pickle=False)

    def load(self, file: BinaryIO) -> object:
        """Read an array written by :meth:`dump`."""
        import numpy as np

        return np.load(file, allow_pickle=False)
