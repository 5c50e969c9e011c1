"""A fresh, empty database per test, on SQLite, PostgreSQL or MariaDB, dropped afterwards.

:func:`isolated_database` yields a URI that any process can open (a Celery worker started by the
test sees exactly the same database):

* ``sqlite``: a new file under the given directory (or a temporary one);
* ``postgresql``: a new schema in the test database, carried in the URI as
  ``?options=-csearch_path=<schema>`` (a schema costs a millisecond where a database costs a
  checkpoint); its connections are tagged with ``application_name=<schema>`` so the teardown
  can end any a test left open before dropping the schema;
* ``mariadb``: a new database on the test server.

Needs the service (see :func:`superlite.testing.services.require_service`): skips when it is
down, fails under ``SUPERLITE_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from superlite.stores.sql.engine import normalize_url
from superlite.testing.services import require_service

#: The kinds :func:`isolated_database` accepts.
KINDS = ("sqlite", "postgresql", "mariadb")

_PREFIX = "superlite_test_"


def _unique_name() -> str:
    return f"{_PREFIX}{uuid.uuid4().hex[:16]}"


@contextmanager
def isolated_database(kind: str, directory: str | Path | None = None) -> Iterator[str]:
    """Yield the URI of a new, empty database of ``kind`` and drop the database on exit."""
    if kind == "sqlite":
        with _sqlite(directory) as uri:
            yield uri
    elif kind == "postgresql":
        with _postgresql(normalize_url(require_service("postgresql"))) as uri:
            yield uri
    elif kind in ("mariadb", "mysql"):
        with _mariadb(normalize_url(require_service("mariadb"))) as uri:
            yield uri
    else:
        raise ValueError(f"unknown database kind {kind!r}; expected one of {', '.join(KINDS)}")


@contextmanager
def _sqlite(directory: str | Path | None) -> Iterator[str]:
    if directory is not None:
        yield f"sqlite:///{Path(directory) / _unique_name()}.db"
        return
    with tempfile.TemporaryDirectory(prefix=_PREFIX) as temporary:
        yield f"sqlite:///{Path(temporary) / 'superlite.db'}"


def _admin(url: URL) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@contextmanager
def _postgresql(server: URL) -> Iterator[str]:
    schema = _unique_name()
    admin = _admin(server)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = server.update_query_dict({"options": f"-csearch_path={schema}", "application_name": schema})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": schema},
            )
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@contextmanager
def _mariadb(server: URL) -> Iterator[str]:
    database = _unique_name()
    admin = _admin(server)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        yield server.set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            leftovers = connection.execute(
                sa.text(
                    "SELECT id FROM information_schema.processlist WHERE db = :name AND id <> CONNECTION_ID()"
                ),
                {"name": database},
            ).scalars().all()
            for connection_id in leftovers:
                try:
                    connection.exec_driver_sql(f"KILL {int(connection_id)}")
                except sa.exc.DBAPIError:
                    pass  # it ended on its own meanwhile
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{database}`")
        admin.dispose()
