"""Weights loaded once per process: components stored with the same artifact bytes share the object.

Two versions (or two models) whose weights artifact has the same SHA-256, say a float model and
its int8 variant, or one network behind several ``postprocess`` functions, are common. When the
artifact's serializer declares its objects ``shareable`` (read-only weights: torch state dicts,
numpy arrays), :class:`SharedArtifacts` hands every component built in this process the object
read for the first one, and keeps it while any of them lives. A TorchModel rebuilds its module
around the state dict's tensors (``load_state_dict(assign=True)``), so the modules share their
parameters' memory. Shared weights must not be changed in place.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

#: What identifies a loaded artifact: its serializer's name and its digest.
Key = tuple[str, str]


class SharedArtifacts:
    """Loaded artifacts by :data:`Key`, each kept while a component holding it lives."""

    def __init__(self) -> None:
        self._objects: dict[Key, object] = {}
        self._users: dict[Key, int] = {}
        self._lock = threading.Lock()
        self.reads = 0
        self.shared = 0

    def acquire(self, key: Key, read: Callable[[], object]) -> object:
        """The object loaded for ``key`` (``read()`` on first use); pair with :meth:`hold` or :meth:`release`."""
        with self._lock:
            if key in self._objects:
                self._users[key] += 1
                self.shared += 1
                return self._objects[key]
        loaded = read()
        with self._lock:
            self.reads += 1
            if key in self._objects:  # read concurrently for another component: keep one
                self._users[key] += 1
                return self._objects[key]
            self._objects[key], self._users[key] = loaded, 1
            return loaded

    def hold(self, owner: object, keys: list[Key]) -> None:
        """Release ``keys`` once ``owner`` (the component built from them) is garbage."""
        if keys:
            weakref.finalize(owner, self._release_all, list(keys))

    def release(self, key: Key) -> None:
        """One user of ``key`` is gone; the object is dropped with its last user."""
        with self._lock:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._objects[key]

    def held(self) -> list[Key]:
        """The keys loaded now."""
        with self._lock:
            return list(self._objects)

    def _release_all(self, keys: list[Key]) -> None:
        for key in keys:
            self.release(key)
