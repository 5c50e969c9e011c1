"""Versioning the SQL schema with Alembic: where a database stands, and upgrading it.

The revisions live in ``migrations/versions`` inside the package and run programmatically: an
Alembic ``Config`` points at the package directory and receives an open connection in
``config.attributes``, so users need no ``alembic.ini``. Alembic records the revision in
``alembic_version``.

A database written before Alembic has ``superlite_meta.schema_version = 1`` and no
``alembic_version``: it is exactly revision ``0001`` and is stamped so before upgrading. A
database at a revision this release does not know was written by a newer superlite and is
refused with :class:`~superlite.errors.SchemaVersionError`.

Upgrades run under a database-wide lock (an advisory lock, ``GET_LOCK`` or SQLite's write
lock), so several processes opening a new database at once create it once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine

from superlite.errors import NoDatabaseError, SchemaVersionError, StoreUnavailableError
from superlite.stores.base import SchemaStatus
from superlite.stores.sql.engine import masked, reporting, writer
from superlite.stores.sql.schema import meta

#: The revision a database written before Alembic is at.
BASELINE = "0001"

_MIGRATIONS = Path(__file__).with_name("migrations")
_LEGACY_KEY = "schema_version"
_PG_SCHEMA_LOCK = 0x5375706572  # an arbitrary advisory-lock key: "Super"
_MYSQL_SCHEMA_LOCK = "superlite_schema."  # + the database name: GET_LOCK is server-wide


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def alembic_config(connection: Connection) -> Config:
    """An Alembic ``Config`` for superlite's revisions that runs them on ``connection``.

    For tools and tests that call ``alembic.command`` themselves; the caller commits.
    """
    config = _config()
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision this release knows."""
    return str(_scripts().get_current_head())


def schema_status(engine: Engine) -> SchemaStatus:
    """Where the database stands; raises SchemaVersionError for a revision this release does not know."""
    with reporting(engine), engine.connect() as connection:
        return _status(connection, engine)


def open_schema(engine: Engine, *, auto_upgrade: bool, create: bool = True) -> SchemaStatus:
    """Check the schema when a store opens, and upgrade it when ``auto_upgrade`` and it is behind.

    With ``create=False`` a database without superlite's tables raises :class:`NoDatabaseError`.

    The first look takes no lock (the common case, an up-to-date database, stays cheap); when
    it finds work, or another process's DDL is under way, the lock is taken and the look repeated.
    """
    with reporting(engine), engine.connect() as connection:
        try:
            status: SchemaStatus | None = _status(connection, engine)
        except sa.exc.OperationalError as exc:
            if not _concurrent_ddl(exc):
                raise
            status = None
    if status is not None and status.current is None and not create:
        raise NoDatabaseError(masked(engine.url), "it has no superlite tables")
    if status is not None and (status.up_to_date or not auto_upgrade):
        return status
    return _locked(engine, run=auto_upgrade)


def upgrade(engine: Engine) -> SchemaStatus:
    """Bring the database to :func:`head` under the schema lock (a no-op when it is there)."""
    return _locked(engine, run=True)


def _locked(engine: Engine, *, run: bool) -> SchemaStatus:
    with reporting(engine), writer(engine).connect() as connection:
        with _schema_lock(connection):
            status = _status(connection, engine)
            if run and status.pending:
                _run(connection, status.current)
                status = _status(connection, engine)
            connection.commit()
            return status


def _concurrent_ddl(exc: sa.exc.OperationalError) -> bool:
    # MariaDB refuses to read a table whose CREATE is running in another session (error 1684).
    args = getattr(exc.orig, "args", ())
    return bool(args) and args[0] == 1684


def _run(connection: Connection, current: str | None) -> None:
    config = alembic_config(connection)
    if current == BASELINE and _alembic_revision(connection) is None:
        command.stamp(config, BASELINE)
    command.upgrade(config, "head")


def _status(connection: Connection, engine: Engine) -> SchemaStatus:
    current = _alembic_revision(connection) or _legacy_revision(connection, engine)
    newest = head()
    try:
        pending = [script.revision for script in _scripts().iterate_revisions(newest, current or "base")]
    except (CommandError, RevisionError):
        raise _newer(engine, current) from None
    return SchemaStatus(current=current, head=newest, pending=tuple(reversed(pending)))


def _alembic_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _legacy_revision(connection: Connection, engine: Engine) -> str | None:
    if not sa.inspect(connection).has_table(meta.name):
        return None
    version = connection.scalar(sa.select(meta.c.value).where(meta.c.key == _LEGACY_KEY))
    if version is None:  # MySQL's DDL is not transactional: another process is creating the tables
        return None
    if version == "1":
        return BASELINE
    # Another process committed its migration between our two reads (each statement sees the
    # latest commit): its Alembic revision is there now.
    current = _alembic_revision(connection)
    if current is not None:
        return current
    raise _newer(engine, f"schema version {version} (without Alembic)")


def _newer(engine: Engine, revision: str | None) -> SchemaVersionError:
    return SchemaVersionError(
        f"the database {masked(engine.url)} holds superlite schema revision {revision}, which this "
        f"release does not know (it reads up to revision {head()}). It was written by a newer "
        f"superlite: upgrade superlite (pip install -U superlite) to open it."
    )


@contextmanager
def _schema_lock(connection: Connection) -> Iterator[None]:
    """Hold a database-wide lock for the block, so one process at a time migrates.

    On SQLite the connection (from :func:`writer`) began with ``BEGIN IMMEDIATE``, which is
    that lock already.
    """
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
    elif dialect in ("mysql", "mariadb"):
        taken = connection.scalar(sa.text("SELECT GET_LOCK(CONCAT(:name, DATABASE()), 60)"), {"name": _MYSQL_SCHEMA_LOCK})
        if taken != 1:  # 0: another process held it for 60 s; NULL: an error
            raise StoreUnavailableError(
                f"the database {masked(connection.engine.url)} stayed locked by another process migrating it "
                f"for 60 s; retry when it has finished (superlite db current shows where it stands)"
            )
    try:
        yield
    finally:
        if dialect in ("mysql", "mariadb"):
            connection.execute(sa.text("SELECT RELEASE_LOCK(CONCAT(:name, DATABASE()))"), {"name": _MYSQL_SCHEMA_LOCK})
