"""The resolver: which version answers a call, decided at call time.

A proxy holds a :class:`~superlite.components.reference.Selector`. A selector pinned to a uuid
resolves without touching the database (a uuid that does not exist fails where the task runs);
a version number takes one record lookup; an alias is looked up at each call, which is what
lets a proxy follow it.
``latest`` is built in and always means the newest version.
"""

from __future__ import annotations

from superlite.components.reference import LATEST, Resolved, Selector
from superlite.errors import NotFoundError
from superlite.registry.registry import Registry
from superlite.stores.base import ComponentRecord


class Resolver:
    """Turns selectors into the :class:`~superlite.components.reference.Resolved` version to run."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def resolve(self, selector: Selector) -> Resolved:
        """The version ``selector`` means now; :class:`NotFoundError` when there is none."""
        if selector.alias is None and selector.uuid is not None:
            return Resolved(selector.type_id, selector.identifier, selector.uuid, selector.version)
        record = self._record(selector)
        return Resolved(record.type_id, record.identifier, record.uuid, record.version)

    def _record(self, selector: Selector) -> ComponentRecord:
        if selector.alias is not None:
            return self._by_alias(selector)
        return self.registry.record(selector.type_id, selector.identifier, selector.version, selector.uuid)

    def _by_alias(self, selector: Selector) -> ComponentRecord:
        if selector.alias == LATEST:
            return self.registry.record(selector.type_id, selector.identifier)
        raise NotFoundError(
            f"{selector.type_id} {selector.identifier!r} has no alias {selector.alias!r}; aliases: {LATEST}",
            [LATEST],
        )
