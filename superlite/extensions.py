"""Extension points: names mapped to dotted import strings, built in or added by entry points.

The one mechanism behind every place superlite is extended by name: database stores and
artifact stores by URI scheme, artifact serializers, compute backends by broker scheme. As
kombu does for its transports, a name maps to an import string (``"pkg.module:attr"``) and the
target is imported only when that name is asked for, so nothing heavy loads at import time.
A plugin adds names by declaring entry points in the point's group; see ``plugins/README.md``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any


@cache
def _entry_point_targets(group: str) -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=group)}


@dataclass(frozen=True)
class ExtensionPoint:
    """Built-in names plus those the entry-point ``group`` declares; entry points win on a clash."""

    group: str
    builtins: Mapping[str, str]

    def names(self) -> dict[str, str]:
        """Every installed name with its import string."""
        return {**self.builtins, **_entry_point_targets(self.group)}

    def find(self, name: str) -> Any | None:
        """Import and return what ``name`` points at, or None when no one registered it.

        A URI scheme with a driver suffix (``postgresql+psycopg``) falls back to its base name.
        """
        table = self.names()
        for candidate in (name, name.split("+", 1)[0]):
            if candidate in table:
                module, _, attribute = table[candidate].partition(":")
                return getattr(importlib.import_module(module), attribute)
        return None
