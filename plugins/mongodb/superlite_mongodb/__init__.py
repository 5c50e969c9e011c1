"""superlite-mongodb: component records in MongoDB collections, artifacts in GridFS.

Installed, it registers the URI schemes ``mongodb``, ``mongodb+srv`` and ``mongomock`` with
superlite (entry-point group ``superlite.stores``), so ``superlite.connect("mongodb://host/db")``
and ``superlite.connect("mongomock://demo")`` work without importing this package.
"""

from superlite_mongodb.artifacts import GridFSArtifactStore
from superlite_mongodb.connection import (
    MongoConnection,
    forget_mongomock,
    open_connection,
)
from superlite_mongodb.metadata import MongoMetadataStore
from superlite_mongodb.stores import open_mongo_stores

__all__ = [
    "GridFSArtifactStore",
    "MongoConnection",
    "MongoMetadataStore",
    "forget_mongomock",
    "open_connection",
    "open_mongo_stores",
]
