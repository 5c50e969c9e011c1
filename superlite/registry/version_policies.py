"""What a version's record says about serving it, read once per uuid: ``cache=``, ``priority=``, ``batching=``.

A version's record never changes, so what it says is read once per uuid; it is read again after
the change feed shows a removal of that identifier (through the resolver's
:class:`~superlite.registry.alias_watch.AliasWatch`), so a removed version stops being answered
from the result cache. Without a watch (``alias_refresh=0``) it is kept for the Datalayer's life.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from superlite.components.batching import Batching
from superlite.compute.results import DEFAULT_TTL
from superlite.registry.alias_watch import AliasWatch
from superlite.stores.base import MetadataStore


@dataclass(frozen=True)
class VersionPolicy:
    """How callers treat one version: its cached answers' ``(content_hash, ttl)`` (None: not cached),
    the priority of its calls when the caller gives none (None: the backend's default), and its
    micro-batching options (None: calls are sent one by one)."""

    cache: tuple[str, float] | None = None
    priority: str | None = None
    batching: Batching | None = None


@dataclass(frozen=True)
class _Known:
    position: int
    changes: tuple[str, str, None]  # the feed key whose change (a removal) makes it stale
    policy: VersionPolicy


class VersionPolicies:
    """``policies.of(uuid)``, ``.cache(uuid)``, ``.priority(uuid)``, ``.batching(uuid)``; see the module docstring."""

    def __init__(self, metadata: MetadataStore, watch: Callable[[], AliasWatch | None]) -> None:
        self.metadata = metadata
        self._watch = watch
        self._known: dict[str, _Known] = {}
        self._lock = threading.Lock()

    def cache(self, uuid: str) -> tuple[str, float] | None:
        """The content hash and time to live of version ``uuid``'s cached answers, or None."""
        return self.of(uuid).cache

    def priority(self, uuid: str) -> str | None:
        """The default priority of calls to version ``uuid`` (``priority=`` on the model), or None."""
        return self.of(uuid).priority

    def batching(self, uuid: str) -> Batching | None:
        """The micro-batching options of version ``uuid`` (``batching=`` on the model), or None."""
        return self.of(uuid).batching

    def of(self, uuid: str) -> VersionPolicy:
        """Everything version ``uuid``'s record says about serving it (an unknown uuid: the defaults)."""
        watch = self._watch()
        known = self._known.get(uuid)  # one atomic read: entries are only ever replaced whole
        if known is not None and (watch is None or watch.fresh(known.changes, known.position)):
            return known.policy
        position = watch.position() if watch is not None else 0
        record = self.metadata.get_by_uuid(uuid)
        if record is None:
            return VersionPolicy()
        cache = record.params.get("cache")
        priority = record.params.get("priority")
        policy = VersionPolicy(
            cache=None if cache is None or cache is False else (record.content_hash, DEFAULT_TTL if cache is True else float(cache)),  # type: ignore[arg-type]
            priority=priority if isinstance(priority, str) else None,
            batching=Batching.of(record.params.get("batching"), f"{record.type_id} {record.identifier!r}"),  # type: ignore[arg-type]
        )
        with self._lock:
            self._known[uuid] = _Known(position, (record.type_id, record.identifier, None), policy)
        return policy
