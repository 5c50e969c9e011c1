"""Security on every SQL backend: stored class paths, record signing, and secrets kept out of output."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from superlite.testing.databases import isolated_database
from superlite.testing.security_contract import SecurityContract

SQL_BACKENDS = ["sqlite", "postgresql", "mariadb"]


class TestSQLSecurity(SecurityContract):
    """Records forged in SQLite, PostgreSQL and MariaDB cannot run code on a loader."""

    @pytest.fixture(params=SQL_BACKENDS)
    def fresh_uri(self, request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
        with isolated_database(request.param, tmp_path) as uri:
            yield uri
