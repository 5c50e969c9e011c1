"""Security on MongoDB: forged records (stored class paths, signatures) cannot run code on a loader.

The shared :class:`~superlite.testing.security_contract.SecurityContract`, on mongomock always
and on the server named by ``SUPERLITE_TEST_MONGODB_URI`` when there is one.
"""

from __future__ import annotations

import pytest

from superlite.testing.security_contract import SecurityContract


class TestMongoSecurity(SecurityContract):
    """Records forged in MongoDB documents and GridFS are refused like SQL ones."""

    @pytest.fixture
    def fresh_uri(self, mongo_uri: str) -> str:
        return mongo_uri
