"""The SQL store family: metadata and artifacts in any database SQLAlchemy speaks.

SQLite is the embedded default; PostgreSQL and MySQL/MariaDB are the real deployments. The
registry opens ``sqlite://``, ``postgresql://``, ``mysql://`` and ``mariadb://`` URIs with
:func:`open_sql_stores`.
"""

from __future__ import annotations

from superlite.common.leases import Leases
from superlite.config import Settings
from superlite.stores.base import StoreBundle
from superlite.stores.sql.artifacts import SQLArtifactStore
from superlite.stores.sql.engine import (
    create_store_engine,
    reporting,
)
from superlite.stores.sql.metadata import SQLMetadataStore
from superlite.stores.sql.schema import ensure_schema

__all__ = ["SQLArtifactStore", "SQLMetadataStore", "open_sql_stores"]


def open_sql_stores(settings: Settings) -> StoreBundle:
    """Connect to ``settings.uri``, create superlite's tables if missing, and return both stores.

    ``settings.store`` gives ``connect_timeout`` (seconds to wait for the server),
    ``busy_timeout`` (seconds a SQLite writer waits for another) and ``create`` (False: raise
    :class:`~superlite.errors.NoDatabaseError` rather than create a missing database). The
    bundle's ``extra["engine"]`` is the SQLAlchemy engine both stores share; it is disposed
    when both stores are closed.

    Raises :class:`~superlite.errors.StoreUnavailableError` (with the password masked) when the
    database cannot be reached, and :class:`~superlite.errors.SchemaVersionError` when a newer
    superlite wrote it.
    """
    engine = create_store_engine(
        settings.uri,
        connect_timeout=settings.store.connect_timeout,
        busy_timeout=settings.store.busy_timeout,
        create=settings.store.create,
    )
    try:
        with reporting(engine):
            ensure_schema(engine, create=settings.store.create)
    except BaseException:
        engine.dispose()
        raise
    leases = Leases(engine.dispose)
    return StoreBundle(
        metadata=SQLMetadataStore(engine, release=leases.take()),
        artifacts=SQLArtifactStore(engine, release=leases.take()),
        extra={"engine": engine},
    )
