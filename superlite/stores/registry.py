"""Find the store for a URI by its scheme.

Built-in schemes map to *dotted import strings* (as kombu maps transport aliases), so nothing
heavy is imported until a URI asks for it. Plugins add schemes through two entry-point groups:

* ``superlite.stores``: ``scheme = "pkg.module:opener"``, where ``opener(settings) -> StoreBundle``
  opens a database URI as metadata store plus default artifact store;
* ``superlite.artifact_stores``: ``scheme = "pkg.module:opener"``, where
  ``opener(uri, settings) -> ArtifactStore`` opens a separate artifact store.

An unknown scheme raises :class:`~superlite.errors.UnknownSchemeError` listing what is installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from superlite.config import Settings, uri_scheme
from superlite.errors import UnknownSchemeError
from superlite.stores.base import ArtifactStore, StoreBundle

DATABASE_GROUP = "superlite.stores"
ARTIFACT_GROUP = "superlite.artifact_stores"

_SQL = "superlite.stores.sql:open_sql_stores"

BUILTIN_DATABASE_SCHEMES: Mapping[str, str] = {
    "sqlite": _SQL,
    "postgresql": _SQL,
    "postgres": _SQL,
    "mysql": _SQL,
    "mariadb": _SQL,
}

BUILTIN_ARTIFACT_SCHEMES: Mapping[str, str] = {
    "file": "superlite.stores.file:open_file_store",
}


def _load(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@cache
def _plugin_schemes(group: str) -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=group)}


def database_schemes() -> dict[str, str]:
    """Every database scheme that can be opened: built-ins plus installed plugins."""
    return {**BUILTIN_DATABASE_SCHEMES, **_plugin_schemes(DATABASE_GROUP)}


def artifact_schemes() -> dict[str, str]:
    """Every separate-artifact-store scheme: built-ins plus installed plugins."""
    return {**BUILTIN_ARTIFACT_SCHEMES, **_plugin_schemes(ARTIFACT_GROUP)}


def _lookup(scheme: str, table: Mapping[str, str], kind: str) -> str:
    # "postgresql+psycopg" is the postgresql store with a driver chosen
    for candidate in (scheme, scheme.split("+", 1)[0]):
        if candidate in table:
            return table[candidate]
    raise UnknownSchemeError(scheme, kind, table)


def open_database(settings: Settings) -> StoreBundle:
    """Open the metadata store (and default artifact store) that ``settings.uri`` names."""
    opener = _load(_lookup(uri_scheme(settings.uri), database_schemes(), "database"))
    return opener(settings)


def open_artifact_store(uri: str, settings: Settings) -> ArtifactStore:
    """Open the separate artifact store that ``uri`` names (``file:///path``, or a plugin's)."""
    opener = _load(_lookup(uri_scheme(uri), artifact_schemes(), "artifact"))
    return opener(uri, settings)
