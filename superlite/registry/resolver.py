"""The resolver: which version answers a call, decided at call time.

A proxy holds a :class:`~superlite.components.reference.Selector`. A selector pinned to a uuid
resolves without touching the database (a uuid that does not exist fails where the task runs);
a version number, or ``latest`` (built in: the newest version, also what a selector without
version or alias means), takes one record lookup; an alias takes one read of its state, which
carries the target's uuid. While a canary runs on the alias, the request's routing key decides
which side answers (see :func:`~superlite.registry.lifecycle.in_canary`).

With ``alias_refresh`` (seconds; the default), what a lookup found is reused until the change
feed, read every ``alias_refresh`` seconds by an :class:`~superlite.registry.alias_watch.AliasWatch`,
says it changed (an alias moved, a new version was applied, a version was removed): no read per
call, and a change made elsewhere is seen within about ``alias_refresh`` seconds (one made
through this Datalayer at once). With 0, every call reads again. Workers keep a version they no
longer follow for ``--release-after`` seconds after its last call, which should exceed
``alias_refresh``.
"""

from __future__ import annotations

import threading
from typing import Any

from superlite.components.reference import LATEST, Resolved, Selector
from superlite.registry.alias_watch import AliasWatch
from superlite.registry.lifecycle import Lifecycle, in_canary
from superlite.registry.registry import Registry
from superlite.stores.base import AliasState


class Resolver:
    """Turns selectors into the :class:`~superlite.components.reference.Resolved` version to run."""

    def __init__(self, registry: Registry, lifecycle: Lifecycle, alias_refresh: float = 0.0) -> None:
        self.registry = registry
        self.lifecycle = lifecycle
        self.alias_refresh = alias_refresh
        self._states: dict[tuple[str, str, str], tuple[int, AliasState]] = {}
        self._versions: dict[tuple[str, str, int | None], tuple[int, Resolved]] = {}
        self._watch: AliasWatch | None = None
        self._watch_lock = threading.Lock()

    def resolve(self, selector: Selector, key: str | None = None, *, split: bool = True) -> Resolved:
        """The version ``selector`` means now for a request with routing ``key``.

        ``split=False`` ignores a running canary (the alias's target itself). Raises
        :class:`~superlite.errors.NotFoundError` when there is none.
        """
        found = self.cached(selector, key, split=split)
        if found is not None:
            return found
        watch = self.watch()
        position = watch.position() if watch is not None else 0  # before the read: a change seen after it invalidates it
        if _names_alias(selector):
            state = self.lifecycle.get(selector.type_id, selector.identifier, selector.alias)  # type: ignore[arg-type]
            if watch is not None:
                self._states[(selector.type_id, selector.identifier, selector.alias)] = (position, state)  # type: ignore[index]
            return _answer(state, key, split)
        record = self.registry.record(selector.type_id, selector.identifier, selector.version)
        resolved = Resolved(record.type_id, record.identifier, record.uuid, record.version)
        if watch is not None:
            self._versions[(selector.type_id, selector.identifier, selector.version)] = (position, resolved)
        return resolved

    def cached(self, selector: Selector, key: str | None = None, *, split: bool = True) -> Resolved | None:
        """What :meth:`resolve` answers, when it can answer without reading the database (else None).

        Never blocks on I/O, so an event loop may call it; the canary split is drawn at each call.
        A lookup is reused while the change feed shows no change to it: for an alias, a move; for
        ``latest``, a new version; for any, a removal of the identifier.
        """
        if selector.alias is None and selector.uuid is not None:
            return Resolved(selector.type_id, selector.identifier, selector.uuid, selector.version)
        watch = self._watch  # not started here: starting it reads the feed's position
        if watch is None:
            return None
        if _names_alias(selector):
            alias_key = (selector.type_id, selector.identifier, selector.alias)
            state = self._states.get(alias_key)  # type: ignore[arg-type]
            return _answer(state[1], key, split) if state is not None and watch.fresh(alias_key, state[0]) else None
        looked_up = self._versions.get((selector.type_id, selector.identifier, selector.version))
        changes = (selector.type_id, selector.identifier, LATEST if selector.version is None else None)
        return looked_up[1] if looked_up is not None and watch.fresh(changes, looked_up[0]) else None

    def forget(self, type_id: str | None = None, identifier: str | None = None, alias: str | None = None) -> None:
        """Drop reused lookups: all, or those of one type, identifier or alias (after this process changed it).

        ``alias=LATEST`` (a new version was stored) drops only the lookup of the newest version;
        no alias drops the identifier's version lookups too.
        """
        _drop(self._states, (type_id, identifier, alias))
        if alias is None:
            _drop(self._versions, (type_id, identifier))
        elif alias == LATEST and type_id is not None and identifier is not None:
            self._versions.pop((type_id, identifier, None), None)

    def close(self) -> None:
        """Stop watching the change feed."""
        if self._watch is not None:
            self._watch.stop()

    def watch(self) -> AliasWatch | None:
        """The change-feed watch, started at the first use (None when ``alias_refresh`` is 0)."""
        watch = self._watch
        if watch is not None or not self.alias_refresh:
            return watch
        with self._watch_lock:
            if self._watch is None:
                started = AliasWatch(self.registry.metadata, self.alias_refresh)
                started.start()
                self._watch = started
        return self._watch


def _names_alias(selector: Selector) -> bool:
    """Whether ``selector`` follows an alias of its own (``latest`` is the newest version, not a stored alias)."""
    return selector.alias is not None and selector.alias != LATEST


def _answer(state: AliasState, key: str | None, split: bool) -> Resolved:
    """The version an alias state answers a request with routing ``key``: its canary's, for that share."""
    if split and state.canary_uuid is not None and in_canary(state.canary_percent, key):
        return Resolved(state.type_id, state.identifier, state.canary_uuid, state.canary_version)
    return Resolved(state.type_id, state.identifier, state.uuid, state.version)


def _drop(lookups: dict[Any, Any], wanted: tuple[str | None, ...]) -> None:
    """Remove the entries whose key starts with ``wanted`` (None matches anything).

    Pops from a snapshot of the keys: another thread may drop the same entry at the same time.
    """
    for key in list(lookups):
        if all(part is None or part == have for part, have in zip(wanted, key)):
            lookups.pop(key, None)
