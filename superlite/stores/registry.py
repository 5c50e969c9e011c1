"""Find the store for a URI by its scheme.

Two extension points (see :mod:`superlite.extensions`):

* ``superlite.stores``: ``scheme = "pkg.module:opener"``, where ``opener(settings) -> StoreBundle``
  opens a database URI as metadata store plus default artifact store;
* ``superlite.artifact_stores``: ``scheme = "pkg.module:opener"``, where
  ``opener(uri, settings) -> ArtifactStore`` opens a separate artifact store.

An unknown scheme raises :class:`~superlite.errors.UnknownSchemeError` listing what is installed.
"""

from __future__ import annotations

from superlite.config import Settings, uri_scheme
from superlite.errors import UnknownSchemeError
from superlite.extensions import ExtensionPoint
from superlite.stores.base import ArtifactStore, StoreBundle

_SQL = "superlite.stores.sql:open_sql_stores"

DATABASES = ExtensionPoint(
    "superlite.stores",
    {"sqlite": _SQL, "postgresql": _SQL, "postgres": _SQL, "mysql": _SQL, "mariadb": _SQL},
)

ARTIFACT_STORES = ExtensionPoint("superlite.artifact_stores", {"file": "superlite.stores.file:open_file_store"})


def open_database(settings: Settings) -> StoreBundle:
    """Open the metadata store (and default artifact store) that ``settings.uri`` names."""
    scheme = uri_scheme(settings.uri)
    opener = DATABASES.find(scheme)
    if opener is None:
        raise UnknownSchemeError(scheme, "database", DATABASES.names())
    return opener(settings)


def open_artifact_store(uri: str, settings: Settings) -> ArtifactStore:
    """Open the separate artifact store that ``uri`` names (``file:///path``, or a plugin's)."""
    scheme = uri_scheme(uri)
    opener = ARTIFACT_STORES.find(scheme)
    if opener is None:
        raise UnknownSchemeError(scheme, "artifact", ARTIFACT_STORES.names())
    return opener(uri, settings)
