"""Alias states a caller may reuse until the change feed says they moved.

A :class:`~superlite.registry.resolver.Resolver` with an :class:`AliasWatch` reads an alias's
state once and reuses it; a daemon thread reads the change feed every ``interval`` seconds and
invalidates the states of the aliases (and identifiers) it names. So an alias-following proxy
costs no database read per call, and learns of a move made anywhere within about ``interval``
seconds (a move made through the same Datalayer at once).

Each reused state carries the feed position the watch had reached when the state was read; it
stays valid while no later change of its alias or identifier has been seen. A state read just
before a move and stored just after the watch saw that move is therefore not trusted: its
position is below the move's. While the watch cannot read the feed (the database is down, the
thread died), nothing is reused: every call reads the alias again.
"""

from __future__ import annotations

import logging
import threading
import time

from superlite.components.reference import LATEST
from superlite.stores.base import MetadataStore

logger = logging.getLogger("superlite.registry")

#: Key of an alias: (type_id, identifier, alias); alias None stands for the whole identifier.
AliasKey = tuple[str, str, str | None]

#: Events read from the feed per query.
PAGE = 1000

#: Longest single wait for a notification (seconds): how long stop() may take to be heard.
NOTIFY_SLICE = 1.0


class AliasWatch:
    """Follows the change feed of ``metadata`` for alias moves and removals (see the module docstring)."""

    def __init__(self, metadata: MetadataStore, interval: float) -> None:
        self.metadata = metadata
        self.interval = interval
        self._lock = threading.Lock()
        self._position = metadata.last_change_id()
        self._changed: dict[AliasKey, int] = {}
        self._changed_types: dict[str, int] = {}
        self._trusted_until = time.monotonic() + self._grace()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def position(self) -> int:
        """The feed position seen so far: tag a state read from now on with it."""
        with self._lock:
            return self._position

    # fresh() and fresh_type() run on every call, so they read without the lock: each read is one
    # atomic dict or attribute read, and poll() notes the changes before it extends the trust, so
    # a reader that sees the new trust also sees the changes noted with it.

    def fresh(self, key: AliasKey, position: int) -> bool:
        """Whether a state of ``key`` read at ``position`` may still be used."""
        if time.monotonic() > self._trusted_until:
            return False
        changed = self._changed
        return position >= changed.get(key, 0) and position >= changed.get((key[0], key[1], None), 0)

    def fresh_type(self, type_id: str, position: int) -> bool:
        """Whether something derived from every component of ``type_id``, read at ``position``, may still be used."""
        return time.monotonic() <= self._trusted_until and position >= self._changed_types.get(type_id, 0)

    def poll(self) -> None:
        """Read the feed from the position seen and note which aliases and identifiers changed."""
        position = self.position()
        while True:
            events = self.metadata.changes(since=position, limit=PAGE)
            with self._lock:
                for event in events:
                    alias = event.payload.get("alias") if event.kind == "alias" else None
                    if event.kind == "alias" and isinstance(alias, str):
                        self._changed[(event.type_id, event.identifier, alias)] = event.id
                    elif event.kind == "remove":
                        self._changed[(event.type_id, event.identifier, None)] = event.id
                    elif event.kind == "apply":  # a new version: the identifier's latest moved
                        self._changed[(event.type_id, event.identifier, LATEST)] = event.id
                    self._changed_types[event.type_id] = event.id
                if events:
                    position = self._position = events[-1].id
                self._trusted_until = time.monotonic() + self._grace()
            if len(events) < PAGE:
                return

    def start(self) -> None:
        """Start the polling thread (once)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="superlite-alias-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the polling thread."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                # PostgreSQL wakes the watch at each committed change (LISTEN/NOTIFY), in slices of
                # at most a second so that stop() is heard; other stores are polled every interval.
                if not self.metadata.wait_for_changes(min(self.interval, NOTIFY_SLICE)) and self._stop.wait(self.interval):
                    return
                if not self._stop.is_set():
                    self.poll()
            except Exception as exc:  # noqa: BLE001 - reported; states are not reused until a poll succeeds
                logger.warning("cannot read the change feed (alias states are read at each call meanwhile): %s", exc)
                self._stop.wait(self.interval)

    def _grace(self) -> float:
        """How long reused states stay trusted after a successful poll: a few missed polls."""
        return 3 * self.interval + 1.0
