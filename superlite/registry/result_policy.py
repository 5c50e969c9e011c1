"""Which versions may have their answers cached, read from their records (``cache=`` on a model).

A version's record never changes, so what it says is read once per uuid; it is read again after
the change feed shows a removal of that identifier (through the resolver's
:class:`~superlite.registry.alias_watch.AliasWatch`), so a removed version stops being answered
from the cache. Without a watch (``alias_refresh=0``) it is kept for the Datalayer's life.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from superlite.compute.results import DEFAULT_TTL
from superlite.registry.alias_watch import AliasWatch
from superlite.stores.base import MetadataStore


@dataclass(frozen=True)
class _Known:
    position: int
    type_id: str
    identifier: str
    policy: tuple[str, float] | None


class CachePolicies:
    """``policy(uuid) -> (content_hash, ttl)`` for cacheable versions, else None (see the module docstring)."""

    def __init__(self, metadata: MetadataStore, watch: Callable[[], AliasWatch | None]) -> None:
        self.metadata = metadata
        self._watch = watch
        self._known: dict[str, _Known] = {}
        self._lock = threading.Lock()

    def __call__(self, uuid: str) -> tuple[str, float] | None:
        """The content hash and time to live of version ``uuid``'s cached answers, or None."""
        watch = self._watch()
        with self._lock:
            known = self._known.get(uuid)
        if known is not None and (watch is None or watch.fresh((known.type_id, known.identifier, None), known.position)):
            return known.policy
        position = watch.position() if watch is not None else 0
        record = self.metadata.get_by_uuid(uuid)
        if record is None:
            return None
        cache = record.params.get("cache")
        policy = None
        if cache is not None and cache is not False:
            policy = (record.content_hash, DEFAULT_TTL if cache is True else float(cache))  # type: ignore[arg-type]
        with self._lock:
            self._known[uuid] = _Known(position, record.type_id, record.identifier, policy)
        return policy
