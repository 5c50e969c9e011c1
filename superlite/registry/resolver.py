"""The resolver: which version answers a call, decided at call time.

A proxy holds a :class:`~superlite.components.reference.Selector`. A selector pinned to a uuid
resolves without touching the database (a uuid that does not exist fails where the task runs);
a version number takes one record lookup; an alias is read at each call (one read of its state,
which carries the target's uuid), which is what lets a proxy follow it. While a canary runs on
the alias, the request's routing key decides which side answers (see
:func:`~superlite.registry.lifecycle.in_canary`). ``latest`` is built in and always means the
newest version.
"""

from __future__ import annotations

from superlite.components.reference import LATEST, Resolved, Selector
from superlite.registry.lifecycle import Lifecycle, in_canary
from superlite.registry.registry import Registry


class Resolver:
    """Turns selectors into the :class:`~superlite.components.reference.Resolved` version to run."""

    def __init__(self, registry: Registry, lifecycle: Lifecycle) -> None:
        self.registry = registry
        self.lifecycle = lifecycle

    def resolve(self, selector: Selector, key: str | None = None, *, split: bool = True) -> Resolved:
        """The version ``selector`` means now for a request with routing ``key``.

        ``split=False`` ignores a running canary (the alias's target itself). Raises
        :class:`~superlite.errors.NotFoundError` when there is none.
        """
        if selector.alias is None and selector.uuid is not None:
            return Resolved(selector.type_id, selector.identifier, selector.uuid, selector.version)
        if selector.alias is not None and selector.alias != LATEST:
            state = self.lifecycle.get(selector.type_id, selector.identifier, selector.alias)
            if split and state.canary_uuid is not None and in_canary(state.canary_percent, key):
                return Resolved(state.type_id, state.identifier, state.canary_uuid, state.canary_version)
            return Resolved(state.type_id, state.identifier, state.uuid, state.version)
        record = self.registry.record(selector.type_id, selector.identifier, selector.version, selector.uuid)
        return Resolved(record.type_id, record.identifier, record.uuid, record.version)
