"""Which version answers a name, remembered between requests until the change feed says otherwise.

Resolving ``sentiment`` (or ``sentiment@3``) costs the registry a few queries, which would be
most of a tiny model's request. The server keeps what each selector resolved to, and reads the
registry's change feed (``db.changes``) at most every ``interval`` seconds: an event for a
component (a new version, a removal, later an alias move) forgets that component's entries. So
a change is seen by the API within ``interval`` seconds plus one feed query; ``interval=0``
resolves every request afresh. Only successful resolutions are kept.

A metadata store without a change feed (no ``changes`` method yet) gets no memory: every
request resolves afresh, as with ``interval=0``.
"""

from __future__ import annotations

import threading
import time

from superlite.components.reference import Resolved, Selector
from superlite.datalayer import Datalayer

#: Change events read per feed query.
FEED_PAGE = 1000

#: Entries kept at most (all are dropped when full: names are few, so this guards against abuse only).
MAX_ENTRIES = 10_000


class Resolutions:
    """Resolved selectors of one Datalayer, kept fresh by its change feed (see the module docstring)."""

    def __init__(self, db: Datalayer, interval: float) -> None:
        self.db = db
        self.interval = interval if callable(getattr(db.metadata, "changes", None)) else 0.0
        self._entries: dict[Selector, Resolved] = {}
        self._since: int | None = None
        self._synced = float("-inf")
        self._lock = threading.Lock()

    def cached(self, selector: Selector) -> Resolved | None:
        """The remembered answer while the feed was read less than ``interval`` ago (no I/O: safe on the event loop)."""
        if time.monotonic() - self._synced >= self.interval:
            return None
        return self._entries.get(selector)

    def resolve(self, selector: Selector) -> Resolved:
        """Read the feed if it is due, then answer from memory or from the registry (blocking: run it in a thread)."""
        if self.interval <= 0:
            return self.db.resolve(selector)
        with self._lock:
            if time.monotonic() - self._synced >= self.interval:
                self._sync()
            found = self._entries.get(selector)
        if found is not None:
            return found
        resolved = self.db.resolve(selector)
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[selector] = resolved
        return resolved

    def forget(self, type_id: str, identifier: str) -> None:
        """Drop what is remembered about one component (this server just changed it)."""
        with self._lock:
            self._entries = {s: r for s, r in self._entries.items() if (s.type_id, s.identifier) != (type_id, identifier)}

    def _sync(self) -> None:
        started = time.monotonic()
        changed: set[tuple[str, str]] = set()
        while True:
            events = self.db.changes(self._since or 0, FEED_PAGE)
            if events:
                self._since = events[-1].id
                changed.update((event.type_id, event.identifier) for event in events)
            if len(events) < FEED_PAGE:
                break
        if changed:
            self._entries = {s: r for s, r in self._entries.items() if (s.type_id, s.identifier) not in changed}
        self._synced = started
