"""Extension points: names mapped to import strings, built in or added by entry points.

The one mechanism behind every place superlite is extended by name: database stores and
artifact stores by URI scheme, artifact serializers, compute backends by broker scheme, and the
broker codec's wire types. As kombu does for its transports, a name maps to an import string
(``"pkg.module:attr"``) and the target is imported only when that name is asked for, so nothing
heavy loads at import time. A plugin adds names by declaring entry points in the point's group;
see ``plugins/README.md``.

A plugin cannot take over a built-in name by accident: an entry point whose name is built in is
ignored, with a warning, unless its name carries the suffix :data:`REPLACES_BUILTIN`
(``"sqlite!replace" = "my_plugin:open"``), which says that replacing it is the intent.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from superlite.common.imports import resolve

#: Suffix of an entry-point name that deliberately replaces a built-in name.
REPLACES_BUILTIN = "!replace"


@cache
def _entry_point_targets(group: str) -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=group)}


def invalidate_caches() -> None:
    """Read entry points afresh on next use (after installing a plugin into a running process)."""
    _entry_point_targets.cache_clear()


@dataclass(frozen=True)
class ExtensionPoint:
    """Built-in names plus those the entry-point ``group`` declares (see the module docstring)."""

    group: str
    builtins: Mapping[str, str]

    def names(self) -> dict[str, str]:
        """Every installed name with its import string."""
        table = dict(self.builtins)
        for name, target in _entry_point_targets(self.group).items():
            base = name.removesuffix(REPLACES_BUILTIN)
            if base in self.builtins and base == name:
                warnings.warn(
                    f"entry point {name!r} = {target!r} in group {self.group!r} would replace a built-in; "
                    f"ignored. Name it {name + REPLACES_BUILTIN!r} if replacing it is intended.",
                    stacklevel=2,
                )
                continue
            table[base] = target
        return table

    def find(self, name: str) -> Any | None:
        """Import and return what ``name`` points at, or None when no one registered it.

        A URI scheme with a driver suffix (``postgresql+psycopg``) falls back to its base name.
        """
        table = self.names()
        for candidate in (name, name.split("+", 1)[0]):
            if candidate in table:
                return resolve(table[candidate])
        return None

    def load_all(self) -> dict[str, Any]:
        """Import every registered target (for points whose members are all needed at once)."""
        return {name: resolve(target) for name, target in self.names().items()}
