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
from superlite.stores.sql.migrate import open_schema

__all__ = ["SQLArtifactStore", "SQLMetadataStore", "open_sql_stores"]


def open_sql_stores(settings: Settings) -> StoreBundle:
    """Connect to ``settings.uri``, bring its schema up to date, and return both stores.

    ``settings.store`` gives ``connect_timeout`` (seconds to wait for the server),
    ``busy_timeout`` (seconds a SQLite writer waits for another), ``auto_upgrade`` (run
    pending migrations now; without it a database that is behind opens as it is, and its
    ``metadata.schema_status()`` lists what is pending) and ``create`` (False: raise
    :class:`~superlite.errors.NoDatabaseError` rather than create a missing database). The
    bundle's ``extra["engine"]`` is the SQLAlchemy engine both stores share; it is disposed
    when both stores are closed.

    Raises :class:`~superlite.errors.StoreUnavailableError` (with the password masked) when the
    database cannot be reached, and :class:`~superlite.errors.SchemaVersionError` when a newer
    superlite wrote it (see :mod:`superlite.stores.sql.migrate`).
    """
    engine = create_store_engine(
        settings.uri,
        connect_timeout=settings.store.connect_timeout,
        busy_timeout=settings.store.busy_timeout,
        create=settings.store.create,
    )
    try:
        with reporting(engine):
            open_schema(engine, auto_upgrade=settings.store.auto_upgrade, create=settings.store.create)
    except BaseException:
        engine.dispose()
        raise
    leases = Leases(engine.dispose)
    return StoreBundle(
        metadata=SQLMetadataStore(engine, release=leases.take()),
        artifacts=SQLArtifactStore(engine, release=leases.take()),
        extra={"engine": engine},
    )
