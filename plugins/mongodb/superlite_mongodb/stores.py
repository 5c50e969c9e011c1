"""The opener registered for ``mongodb://``, ``mongodb+srv://`` and ``mongomock://`` URIs."""

from __future__ import annotations

from superlite.config import Settings
from superlite.errors import NoDatabaseError
from superlite.stores.base import StoreBundle
from superlite_mongodb.artifacts import GridFSArtifactStore
from superlite_mongodb.connection import open_connection
from superlite_mongodb.metadata import DEFAULT_PREFIX, MongoMetadataStore


def open_mongo_stores(settings: Settings) -> StoreBundle:
    """Open ``settings.uri`` as a metadata store plus a GridFS artifact store on one client.

    ``mongodb://host:27017/mydb`` and ``mongodb+srv://…/mydb`` need the database name in the
    path; ``mongomock://name`` is an in-memory database shared by every opener of that name in
    the process. When ``settings.artifacts`` names another artifact store, the Datalayer uses
    that one and the GridFS store here goes unused: it writes nothing to the database until its
    first ``put``. With ``settings.store.create`` False, a database without superlite's
    collections raises :class:`~superlite.errors.NoDatabaseError`.
    """
    connection = open_connection(settings.uri)
    if not settings.store.create and f"{DEFAULT_PREFIX}components" not in connection.database.list_collection_names():
        connection.client.close()
        raise NoDatabaseError(connection.description, "it has no superlite collections")
    metadata = MongoMetadataStore(connection, auto_upgrade=settings.store.auto_upgrade)
    try:
        artifacts = GridFSArtifactStore(connection)
    except BaseException:
        metadata.close()
        raise
    return StoreBundle(metadata=metadata, artifacts=artifacts)
