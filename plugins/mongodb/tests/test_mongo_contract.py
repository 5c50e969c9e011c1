"""The shared store contract suite, run on mongomock and (when one is named) a real server.

The fixtures ``metadata_store`` and ``artifact_store`` come from ``conftest.py``; each test gets
a fresh database. The ``mongodb`` variants skip unless ``SUPERLITE_TEST_MONGODB_URI`` is set.
"""

from superlite.testing.store_contract import (
    ArtifactStoreContract,
    MetadataStoreContract,
)


class TestMongoMetadataStore(MetadataStoreContract):
    """MongoMetadataStore passes every metadata-store contract test."""


class TestGridFSArtifactStore(ArtifactStoreContract):
    """GridFSArtifactStore passes every artifact-store contract test."""
