"""Where each model's predictions run, as the deployment files declare (``serving: local|remote``).

The modes come from the latest version of every stored ``deployment`` component. They are read
once and reused until the change feed shows a change to a deployment (through the resolver's
:class:`~superlite.registry.alias_watch.AliasWatch`); without a watch (``alias_refresh=0``) they
are read again whenever the feed has moved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from superlite.errors import ConfigurationError
from superlite.registry.alias_watch import AliasWatch
from superlite.registry.deployment import Deployment
from superlite.registry.registry import Registry

#: (type_id, identifier) -> (mode, the deployment that declares it)
Modes = dict[tuple[str, str], tuple[str, str]]


class ServingModes:
    """The serving mode each deployed model declares (see the module docstring)."""

    def __init__(self, registry: Registry, watch: Callable[[], AliasWatch | None]) -> None:
        self.registry = registry
        self._watch = watch
        self._lock = threading.Lock()
        self._cached: tuple[int, Modes] | None = None

    def mode(self, type_id: str, identifier: str) -> str | None:
        """``"local"``, ``"remote"``, or None when no deployment says."""
        declared = self._modes().get((type_id, identifier))
        return declared[0] if declared is not None else None

    def forget(self) -> None:
        """Read the modes again at the next call (this process just stored a deployment)."""
        with self._lock:
            self._cached = None

    def check(self, spec: Mapping[str, object]) -> None:
        """Refuse a deployment whose modes contradict another deployment's (ConfigurationError)."""
        name = spec["name"]
        for identifier, model in spec["models"].items():  # type: ignore[attr-defined]
            wanted = model.get("serving")
            declared = self._modes().get((model["type"], identifier))
            if wanted is not None and declared is not None and declared[1] != name and declared[0] != wanted:
                raise ConfigurationError(
                    f"models.{identifier}.serving: {wanted!r} contradicts deployment {declared[1]!r}, which declares "
                    f"{declared[0]!r}; declare it in one deployment only"
                )

    def _modes(self) -> Modes:
        watch = self._watch()
        cached = self._cached  # one atomic read on every call; writers replace the tuple whole
        if cached is not None and self._still_valid(cached[0], watch):
            return cached[1]
        position = watch.position() if watch is not None else self.registry.metadata.last_change_id()
        modes = self._read()
        with self._lock:
            self._cached = (position, modes)
        return modes

    def _still_valid(self, position: int, watch: AliasWatch | None) -> bool:
        if watch is not None:
            return watch.fresh_type(Deployment.type_id, position)
        return self.registry.metadata.last_change_id() == position

    def _read(self) -> Modes:
        modes: Modes = {}
        for name in self.registry.show(Deployment.type_id) if Deployment.type_id in self.registry.show() else []:
            spec = self.registry.record(Deployment.type_id, name).params.get("spec") or {}
            for identifier, model in spec.get("models", {}).items():
                if model.get("serving") is not None:
                    modes[(model.get("type", "model"), identifier)] = (model["serving"], name)
        return modes
