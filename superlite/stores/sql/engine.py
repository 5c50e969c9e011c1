"""Building the SQLAlchemy engine for a store URI, and turning driver failures into superlite errors.

``postgresql://`` and ``mysql://`` URIs without a driver get the drivers superlite ships with
(psycopg 3 and PyMySQL). SQLite files get their directory created, write-ahead logging and a
busy timeout, so several processes can write to one file: writers queue instead of failing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from superlite.common.messages import sentence
from superlite.common.retry import retry
from superlite.common.uris import mask_uri
from superlite.errors import (
    ConfigurationError,
    NoDatabaseError,
    StorageFullError,
    StoreDataError,
    StoreUnavailableError,
)

#: Seconds a connection attempt may take before the store reports the database unreachable.
CONNECT_TIMEOUT = 5.0

#: Seconds a SQLite writer waits for another process's write to finish before giving up.
BUSY_TIMEOUT = 60.0

#: Execution option asking a SQLite transaction to take the write lock when it begins.
WRITE_OPTION = "superlite_write"

#: How often a transaction that lost a deadlock or lock wait is tried again.
RETRIES = 5

_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}

# PostgreSQL: serialization failure, deadlock. MySQL/MariaDB: lock wait timeout, deadlock.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}
_RETRYABLE_MYSQL_CODES = {1205, 1213}

# A full disk. PostgreSQL: disk_full. MySQL/MariaDB: table full, disk full, out of disk space.
_DISK_FULL_SQLSTATES = {"53100"}
_DISK_FULL_MYSQL_CODES = {1114, 1021}
_DISK_FULL_WORDS = ("database or disk is full", "no space left on device")

T = TypeVar("T")


def normalize_url(uri: str) -> URL:
    """Parse ``uri`` and give a driver to schemes that name none."""
    try:
        url = make_url(uri)
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError(f"not a valid database URI: {uri!r} ({exc})") from exc
    driver = _DEFAULT_DRIVERS.get(url.drivername)
    if driver is None and url.drivername.startswith("postgres+"):
        driver = "postgresql+" + url.drivername.partition("+")[2]
    return url.set(drivername=driver) if driver else url


def masked(url: URL) -> str:
    """``url`` as text with its password hidden, safe for messages and logs."""
    return mask_uri(url.render_as_string(hide_password=False))


def create_store_engine(
    uri: str, *, connect_timeout: float = CONNECT_TIMEOUT, busy_timeout: float = BUSY_TIMEOUT, create: bool = True
) -> Engine:
    """An engine for ``uri`` configured for superlite's stores (drivers, timeouts, SQLite locking).

    ``create=False``: a SQLite file that does not exist raises :class:`NoDatabaseError`
    instead of being created (with its directories).
    """
    url = normalize_url(uri)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, busy_timeout, create)
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = max(1, round(connect_timeout))
    if url.get_driver_name() == "pymysql":
        # Let the server's max_allowed_packet be the only limit; chunk sizes are fitted to it.
        connect_args["max_allowed_packet"] = 1 << 30
    try:
        return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise ConfigurationError(f"cannot open {masked(url)}: {exc}") from exc


def _sqlite_engine(url: URL, busy_timeout: float, create: bool) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in database
    if in_memory:
        # One shared connection, or every checkout would see its own empty database.
        engine = sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        if not database.startswith("file:"):
            path = Path(database).expanduser()
            if not create and not path.is_file():
                raise NoDatabaseError(masked(url), f"the file {path} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True)
            url = url.set(database=str(path))
        engine = sa.create_engine(url)
    milliseconds = int(busy_timeout * 1000)

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, decides when transactions begin (see _begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {milliseconds}")
        if not in_memory:
            _enable_wal(cursor, busy_timeout)
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        # A writer takes the lock up front, so it waits its turn (busy_timeout) instead of
        # failing when a read transaction later tries to upgrade to a write.
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def _enable_wal(cursor: Any, busy_timeout: float) -> None:
    # Switching a new database file to WAL fails at once, busy handler or not, while another
    # process holds its write lock (SQLite would otherwise deadlock), so wait for it here.
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    retry(
        lambda: cursor.execute("PRAGMA journal_mode = WAL"),
        attempts=sys.maxsize,
        retry_if=lambda exc: "locked" in str(exc),
        backoff=0.005,
        budget=busy_timeout,
    )


def writer(engine: Engine) -> Engine:
    """``engine`` for write transactions (on SQLite they begin by taking the write lock)."""
    return engine.execution_options(**{WRITE_OPTION: True})


def driver_error(exc: BaseException) -> BaseException:
    """The DBAPI exception inside a SQLAlchemy one (or ``exc`` itself)."""
    return getattr(exc, "orig", None) or exc


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is a deadlock or lock timeout, after which the transaction may be retried."""
    orig = driver_error(exc)
    if getattr(orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    args: tuple[object, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] in _RETRYABLE_MYSQL_CODES


def retrying(operation: Callable[[], T]) -> T:
    """Run ``operation`` (one whole transaction), again if it lost a deadlock."""
    return retry(
        operation,
        attempts=RETRIES,
        retry_if=lambda exc: isinstance(exc, sa.exc.DBAPIError) and is_retryable(exc),
    )


def write_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work(connection)`` in one write transaction, again if it lost a deadlock.

    Failures to reach or use the database come out as :class:`StoreUnavailableError`.
    """

    def attempt() -> T:
        with writer(engine).begin() as connection:
            return work(connection)

    with reporting(engine):
        return retrying(attempt)


def unavailable(url: URL, exc: BaseException) -> StoreUnavailableError:
    """A :class:`StoreUnavailableError` for a failure to reach or use the database at ``url``."""
    reason = " ".join(str(driver_error(exc)).split())
    if url.password:
        reason = reason.replace(str(url.password), "***")
    if "locked" in reason or "busy" in reason:
        return StoreUnavailableError(
            f"the database {masked(url)} stayed locked by another writer ({reason}). Another "
            f"process held its write lock longer than the busy timeout; retry, or raise the "
            f"timeout with connect(..., busy_timeout=seconds)."
        )
    return StoreUnavailableError(
        f"cannot use the database {masked(url)}: {sentence(reason)} Check that the server is running and "
        f"accepts connections at that host and port, that the database exists, and that the user "
        f"name and password are right."
    )


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the database's disk is full (SQLite, PostgreSQL or MySQL/MariaDB words)."""
    orig = driver_error(exc)
    if getattr(orig, "sqlstate", None) in _DISK_FULL_SQLSTATES:
        return True
    args: tuple[object, ...] = getattr(orig, "args", ())
    if args and args[0] in _DISK_FULL_MYSQL_CODES:
        return True
    reason = str(orig).lower()
    return any(words in reason for words in _DISK_FULL_WORDS)


def disk_full(url: URL, exc: BaseException) -> StorageFullError:
    """A :class:`StorageFullError` for the database at ``url``."""
    return StorageFullError(
        f"the database {masked(url)} is out of disk space ({' '.join(str(driver_error(exc)).split())}); "
        f"nothing was half-written. Free space on the disk that holds it, then retry."
    )


@contextmanager
def reporting(engine: Engine) -> Iterator[None]:
    """Raise the driver's failures inside the block as superlite errors, in one place for every store.

    A full disk is :class:`StorageFullError`; a failure to reach or use the database
    :class:`StoreUnavailableError`; a value the database or its driver refused (``DataError``,
    a number it cannot hold, text it cannot encode) :class:`StoreDataError`.
    """
    dbapi = engine.dialect.loaded_dbapi
    # The driver's own classes too: the PostgreSQL fast path talks to psycopg directly.
    failures = (sa.exc.OperationalError, sa.exc.InterfaceError, dbapi.OperationalError, dbapi.InterfaceError)
    refused = (sa.exc.DataError, dbapi.DataError, OverflowError, UnicodeError)
    try:
        yield
    except failures as exc:
        raise (disk_full(engine.url, exc) if is_disk_full(exc) else unavailable(engine.url, exc)) from exc
    except refused as exc:
        reason = " ".join(str(driver_error(exc)).split())
        raise StoreDataError(f"the database {masked(engine.url)} refused a value: {reason}") from exc
    except json.JSONDecodeError as exc:
        raise StoreDataError(
            f"a record in the database {masked(engine.url)} is damaged: its JSON cannot be read ({exc}). "
            f"Restore it from a backup or remove it with the database's own tools."
        ) from exc
    except sa.exc.DBAPIError as exc:
        if is_disk_full(exc):
            raise disk_full(engine.url, exc) from exc
        raise
