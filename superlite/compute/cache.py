"""A memory-bounded LRU cache of loaded models, keyed by uuid, loading each one only once.

Keys are uuids, never identifiers, so a new version can never be served from an old entry.
Concurrent first requests for one uuid wait for a single load (single flight) instead of
loading the model once each.

The size of an entry is the larger of what the loader reports (the serialized size of the
model's artifacts) and :func:`measure_size` of the loaded object, which walks it in memory:
a model whose arrays were compressed on disk, or which builds tables when it is loaded, is
charged for what it really holds.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from types import FunctionType, ModuleType
from typing import Generic, TypeVar

T = TypeVar("T")

#: :func:`measure_size` stops after visiting this many objects and returns what it counted.
MEASURE_LIMIT = 1_000_000


def measure_size(obj: object, limit: int = MEASURE_LIMIT, stop_types: tuple[type, ...] = ()) -> int:
    """Approximate bytes held by ``obj`` and everything it references, each object counted once.

    Classes, modules, the globals of functions, model caches and instances of ``stop_types``
    (e.g. the Datalayer a loaded model points back to) are shared with the rest of the process
    and not counted. Objects with an integer ``nbytes`` (numpy arrays, torch tensors) count
    their data buffer even when it lives outside the Python object.
    """
    skip = (type, ModuleType, ModelCache, *stop_types)
    seen: set[int] = set()
    stack = [obj]
    total = 0
    while stack and len(seen) < limit:
        item = stack.pop()
        if id(item) in seen or isinstance(item, skip):
            continue
        seen.add(id(item))
        size = sys.getsizeof(item, 0)
        if hasattr(type(item), "nbytes"):
            nbytes = getattr(item, "nbytes", 0)
            if isinstance(nbytes, int):
                size = max(size, nbytes)
        total += size
        if isinstance(item, FunctionType):
            stack.extend((item.__code__, item.__defaults__, item.__kwdefaults__, item.__closure__, item.__dict__))
        else:
            stack.extend(gc.get_referents(item))
    return total


@dataclass
class _Entry(Generic[T]):
    value: T
    size: int


class ModelCache(Generic[T]):
    """Least-recently-used cache bounded by total size in bytes and by entry count.

    ``loader(key)`` returns ``(value, size_in_bytes)``; while ``max_bytes`` is set, the size kept
    is the larger of that and ``measure(value)`` (``measure=None`` trusts the loader). An entry
    larger than the whole budget is still returned to the caller, but not kept. :meth:`pin`\ned
    entries (what a worker follows) are kept whatever the budget and never evicted. ``max_bytes``,
    ``max_items`` and ``measure`` may be changed at any time; the next admission uses them.
    :attr:`hits` counts the gets answered from the cache, :attr:`loads` the others (misses),
    and :attr:`load_seconds` sums the loads' time; each function in
    :attr:`load_listeners` is called with the key and the seconds after every load (metrics).
    """

    def __init__(
        self,
        loader: Callable[[str], tuple[T, int]],
        max_bytes: int | None = None,
        max_items: int | None = None,
        measure: Callable[[object], int] | None = measure_size,
    ) -> None:
        self._loader = loader
        self.measure = measure
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._pinned: set[str] = set()
        self.hits = 0
        self.loads = 0
        self.load_seconds = 0.0
        self.load_listeners: list[Callable[[str, float], None]] = []
        self.evictions = 0

    def get(self, key: str) -> T:
        """The cached value for ``key``, loading it (once, however many callers) on a miss."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry.value
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return entry.value
            started = time.perf_counter()
            try:
                value, size = self._loader(key)
                if self.measure is not None and self.max_bytes is not None:
                    size = max(size, self.measure(value))
            except BaseException:
                with self._lock:
                    self._loading.pop(key, None)
                raise
            seconds = time.perf_counter() - started
            with self._lock:
                self._loading.pop(key, None)
                self.loads += 1
                self.load_seconds += seconds
                self._admit(key, _Entry(value, size))
            for listener in self.load_listeners:
                listener(key, seconds)
            return value

    def pin(self, key: str) -> None:
        """Keep ``key`` cached once loaded: never evicted, admitted even over budget, until :meth:`unpin`."""
        with self._lock:
            self._pinned.add(key)

    def unpin(self, key: str) -> None:
        """Let ``key`` be evicted again like any other entry."""
        with self._lock:
            self._pinned.discard(key)

    def _admit(self, key: str, entry: _Entry[T]) -> None:
        if self.max_bytes is not None and entry.size > self.max_bytes and key not in self._pinned:
            return
        self._entries[key] = entry
        self._total += entry.size
        while self._over_budget():
            victim = next((k for k in self._entries if k not in self._pinned), None)
            if victim is None:
                return
            evicted = self._entries.pop(victim)
            self._total -= evicted.size
            self.evictions += 1

    def _over_budget(self) -> bool:
        if self.max_items is not None and len(self._entries) > self.max_items:
            return True
        return self.max_bytes is not None and self._total > self.max_bytes

    @property
    def total_bytes(self) -> int:
        """Sum of the sizes of the entries held now."""
        return self._total

    def sizes(self) -> dict[str, int]:
        """Size in bytes of each cached entry, least recently used first."""
        with self._lock:
            return {key: entry.size for key, entry in self._entries.items()}

    def keys(self) -> list[str]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._entries)

    def discard(self, key: str) -> None:
        """Drop ``key`` if cached."""
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._total -= entry.size

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
            self._total = 0
