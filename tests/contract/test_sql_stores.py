"""The SQL stores on SQLite, PostgreSQL and MariaDB: the shared contract, then what is SQL's own."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from superlite.config import Settings
from superlite.errors import (
    IntegrityError,
    NotFoundError,
    SchemaVersionError,
    StoreUnavailableError,
    SuperliteError,
    VersionConflictError,
)
from superlite.stores.base import (
    CHUNK_SIZE,
    ArtifactStore,
    MetadataStore,
    StoreBundle,
)
from superlite.stores.registry import open_database
from superlite.stores.sql import SQLArtifactStore, SQLMetadataStore, open_sql_stores
from superlite.stores.sql.artifacts import ChunkReader
from superlite.stores.sql.chunks import MySQLChunkIO, rechunk
from superlite.stores.sql.engine import create_store_engine, normalize_url
from superlite.testing.fixtures import (
    make_record,
    make_ref,
    put_bytes,
    random_bytes,
    read_all,
)
from superlite.testing.services import require_service
from superlite.testing.store_contract import (
    ArtifactStoreContract,
    MetadataStoreContract,
)

PROCESSES = 4


def _close(bundle: StoreBundle) -> None:
    bundle.metadata.close()
    bundle.artifacts.close()


class TestSQLMetadataStore(MetadataStoreContract):
    """SQLMetadataStore keeps the metadata contract on every SQL backend."""

    @pytest.fixture
    def metadata_store(self, sql_stores: StoreBundle) -> MetadataStore:
        """The metadata store of the test's database."""
        return sql_stores.metadata


class TestSQLArtifactStore(ArtifactStoreContract):
    """SQLArtifactStore keeps the artifact contract on every SQL backend."""

    @pytest.fixture
    def artifact_store(self, sql_stores: StoreBundle) -> ArtifactStore:
        """The artifact store of the test's database."""
        return sql_stores.artifacts


def test_registry_opens_sql_uris(database_uri: str) -> None:
    """The registry routes sqlite/postgresql/mysql URIs to the SQL stores."""
    bundle = open_database(Settings(uri=database_uri))
    try:
        assert isinstance(bundle.metadata, SQLMetadataStore)
        assert isinstance(bundle.artifacts, SQLArtifactStore)
    finally:
        _close(bundle)


def test_newer_schema_is_refused(database_uri: str) -> None:
    """A database at a revision this release does not know raises SchemaVersionError naming the fix."""
    bundle = open_sql_stores(Settings(uri=database_uri))
    engine: sa.Engine = bundle.extra["engine"]  # type: ignore[assignment]
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    _close(bundle)
    for auto_upgrade in (True, False):
        with pytest.raises(SchemaVersionError, match="upgrade superlite") as error:
            open_sql_stores(Settings(uri=database_uri).with_options(auto_upgrade=auto_upgrade))
        assert "revision 9999" in str(error.value)


def test_reopening_keeps_data(database_uri: str) -> None:
    """Opening an existing database again reads what was written (tables are not recreated)."""
    first = open_sql_stores(Settings(uri=database_uri))
    record = make_record()
    first.metadata.insert(record)
    _close(first)
    second = open_sql_stores(Settings(uri=database_uri))
    try:
        stored = second.metadata.get_by_uuid(record.uuid)
        assert stored is not None and stored.identifier == record.identifier
    finally:
        _close(second)


def test_failing_reference_rolls_back_the_record(sql_stores: StoreBundle) -> None:
    """When the artifact references fail after the record row was written, nothing stays."""
    record = make_record(artifacts=[make_ref("object", b"a"), make_ref("object", b"b")])
    with pytest.raises(SuperliteError) as error:
        sql_stores.metadata.insert(record)
    assert not isinstance(error.value, VersionConflictError)
    assert sql_stores.metadata.get_by_uuid(record.uuid) is None
    assert sql_stores.metadata.versions("model", "sentiment") == []


def test_artifact_deleted_while_read_raises_not_found(sql_stores: StoreBundle) -> None:
    """A reader that loses the rest of an artifact to a delete gets NotFoundError, not short data.

    Chunks already fetched ahead (two on PostgreSQL) are kept, so the artifact is longer than that.
    """
    sha256 = put_bytes(sql_stores.artifacts, random_bytes(4 * CHUNK_SIZE + 10))
    with sql_stores.artifacts.open(sha256) as stream:
        stream.read(100)
        sql_stores.artifacts.delete(sha256)
        with pytest.raises(NotFoundError, match="while being read"):
            stream.read()


def _insert_in_process(uri: str, uuid: str, start: Any, results: Any) -> None:
    start.wait()
    try:
        bundle = open_sql_stores(Settings(uri=uri))
        try:
            bundle.metadata.insert(make_record(uuid=uuid))
            results.put((uuid, "inserted"))
        finally:
            _close(bundle)
    except VersionConflictError:
        results.put((uuid, "conflict"))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put((uuid, f"{type(exc).__name__}: {exc}"))


def test_processes_racing_on_a_new_database(database_uri: str) -> None:
    """Processes that create the schema and insert the same version at once: one wins, the rest conflict."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    uuids = [f"racer-{i}" for i in range(PROCESSES)]
    workers = [context.Process(target=_insert_in_process, args=(database_uri, u, start, results)) for u in uuids]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(outcomes.values()) == ["conflict"] * (PROCESSES - 1) + ["inserted"], outcomes
    bundle = open_sql_stores(Settings(uri=database_uri))
    try:
        stored = bundle.metadata.get("model", "sentiment")
        assert stored is not None and outcomes[stored.uuid] == "inserted"
    finally:
        _close(bundle)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_unreachable_server_is_reported_with_password_masked(scheme: str) -> None:
    """Nobody listening: StoreUnavailableError, the URI shown without its password, and what to check."""
    uri = f"{scheme}://alice:s3cr3t-pw@127.0.0.1:{_closed_port()}/models"
    with pytest.raises(StoreUnavailableError) as error:
        open_sql_stores(Settings(uri=uri))
    message = str(error.value)
    assert "s3cr3t-pw" not in message
    assert "alice:***@127.0.0.1" in message
    assert "Check that the server is running" in message
    assert "?." not in message and ".." not in message  # the driver's words end once


def test_bad_postgresql_credentials_are_reported_with_password_masked() -> None:
    """A user the server refuses: StoreUnavailableError without the password."""
    server = normalize_url(require_service("postgresql"))
    uri = server.set(username="no_such_superlite_user", password="s3cr3t-pw").render_as_string(hide_password=False)
    with pytest.raises(StoreUnavailableError) as error:
        open_sql_stores(Settings(uri=uri))
    assert "s3cr3t-pw" not in str(error.value)
    assert "no_such_superlite_user:***@" in str(error.value)


@pytest.mark.parametrize(
    ("uri", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2"),
        ("mysql://u@h/db", "mysql+pymysql"),
        ("mariadb://u@h/db", "mysql+pymysql"),
        ("mysql+mysqldb://u@h/db", "mysql+mysqldb"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_urls_get_the_bundled_drivers(uri: str, driver: str) -> None:
    """Schemes without a driver get psycopg or PyMySQL; an explicit driver is kept."""
    assert normalize_url(uri).drivername == driver


def test_sqlite_file_directory_is_created_and_uses_wal(tmp_path: Path) -> None:
    """A SQLite URI in a directory that does not exist yet works, in write-ahead-log mode."""
    path = tmp_path / "a" / "b" / "superlite.db"
    bundle = open_sql_stores(Settings(uri=f"sqlite:///{path}"))
    try:
        engine: sa.Engine = bundle.extra["engine"]  # type: ignore[assignment]
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert path.is_file()
    finally:
        _close(bundle)


def test_sqlite_switches_to_wal_while_another_process_writes(tmp_path: Path) -> None:
    """A new file whose write lock is held (by a process creating the tables) still opens in WAL.

    SQLite refuses the switch at once, without its busy handler, while another connection writes;
    the engine must wait for the writer instead of failing with "database is locked".
    """
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE held (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO held VALUES (1)")
    attempts: list[str] = []
    engine = create_store_engine(f"sqlite:///{path}", busy_timeout=30)

    def _trace(statement: str) -> None:
        if statement == "PRAGMA journal_mode = WAL":
            attempts.append(statement)
            if len(attempts) == 2:  # the first was refused: let the writer finish now
                other.execute("COMMIT")

    @sa.event.listens_for(engine, "connect", insert=True)
    def _watch(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(_trace)

    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert len(attempts) == 2
    finally:
        engine.dispose()
        other.close()


def test_sqlite_in_memory() -> None:
    """``sqlite://`` (in memory) keeps one database for the life of the stores."""
    bundle = open_sql_stores(Settings(uri="sqlite://"))
    bundle.metadata.insert(make_record())
    assert bundle.metadata.versions("model", "sentiment") == [0]
    assert read_all(bundle.artifacts.open(put_bytes(bundle.artifacts, b"memory"))) == b"memory"
    _close(bundle)


def test_engine_is_disposed_when_both_stores_close(database_uri: str) -> None:
    """The stores of a bundle share one pool; it is emptied only when the last of them closes."""
    bundle = open_sql_stores(Settings(uri=database_uri))
    engine: sa.Engine = bundle.extra["engine"]  # type: ignore[assignment]
    bundle.metadata.insert(make_record())
    bundle.metadata.close()
    put_bytes(bundle.artifacts, b"still open")
    assert engine.pool.checkedin() > 0  # type: ignore[attr-defined]
    bundle.artifacts.close()
    bundle.artifacts.close()
    assert engine.pool.checkedin() == 0  # type: ignore[attr-defined]


def test_postgresql_chunks_are_compressed_with_lz4() -> None:
    """On PostgreSQL with LZ4 the chunk column compresses: sparse bytes shrink, random ones pass as they are.

    A server built without LZ4 keeps the column as migration 0001 left it: uncompressed, out of line.
    """
    from superlite.testing.databases import isolated_database

    sparse = bytes(CHUNK_SIZE) + os.urandom(4096)
    dense = os.urandom(CHUNK_SIZE)
    with isolated_database("postgresql") as uri:
        bundle = open_sql_stores(Settings(uri=uri))
        try:
            engine: sa.Engine = bundle.extra["engine"]  # type: ignore[assignment]
            with engine.connect() as connection:
                has_lz4 = connection.exec_driver_sql(
                    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
                ).scalar()
                column = connection.exec_driver_sql(
                    "SELECT attstorage, attcompression FROM pg_attribute "
                    "WHERE attrelid = 'superlite_artifact_chunks'::regclass AND attname = 'data'"
                ).one()
            stored = {put_bytes(bundle.artifacts, data, piece_size=CHUNK_SIZE): data for data in (sparse, dense)}
            with engine.connect() as connection:
                sizes = dict(
                    connection.exec_driver_sql(
                        "SELECT a.sha256, sum(pg_column_size(c.data)) FROM superlite_artifacts a "
                        "JOIN superlite_artifact_chunks c ON c.sha256 = coalesce(a.chunks_key, a.sha256) GROUP BY a.sha256"
                    ).all()
                )
            for digest, data in stored.items():
                assert read_all(bundle.artifacts.open(digest)) == data
        finally:
            _close(bundle)
    if not has_lz4:
        assert column[0] == "e"
        return
    assert tuple(column) == ("x", "l")
    sparse_size, dense_size = (sizes[digest] for digest in stored)
    assert sparse_size < len(sparse) // 10
    assert len(dense) <= dense_size < len(dense) + 1024


def test_mariadb_chunks_fit_max_allowed_packet() -> None:
    """On MariaDB, bytes that double when escaped (all zeros) still fit one packet per chunk."""
    from superlite.testing.databases import isolated_database

    with isolated_database("mariadb") as uri:
        bundle = open_sql_stores(Settings(uri=uri))
        try:
            engine: sa.Engine = bundle.extra["engine"]  # type: ignore[assignment]
            with engine.connect() as connection:
                packet = int(connection.exec_driver_sql("SELECT @@max_allowed_packet").scalar() or 0)
                assert 2 * MySQLChunkIO().chunk_size(connection) < packet
            data = bytes(CHUNK_SIZE * 2 + 1)
            sha256 = put_bytes(bundle.artifacts, data, piece_size=CHUNK_SIZE)
            assert hashlib.sha256(read_all(bundle.artifacts.open(sha256))).hexdigest() == sha256
        finally:
            _close(bundle)


def test_rechunk_regroups_any_pieces() -> None:
    """Pieces of any size come out as exact chunks, the last one shorter."""
    data = bytes(range(256)) * 5
    out = list(rechunk([data[:7], data[7:300], b"", data[300:]], 100))
    assert b"".join(out) == data
    assert [len(piece) for piece in out] == [100] * 12 + [80]


class _Chunks:
    """A chunk table in memory for ChunkReader, recording the fetches; ``gate`` holds back one chunk."""

    def __init__(self, data: bytes, size: int, missing: int | None = None) -> None:
        self.rows = {seq: data[start : start + size] for seq, start in enumerate(range(0, len(data), size))}
        self.rows.pop(missing, None)  # type: ignore[arg-type]
        self.fetched: list[int] = []
        self.gate: tuple[int, threading.Event] | None = None

    def fetch(self, key: str, seq: int) -> bytes | None:
        self.fetched.append(seq)
        if self.gate is not None and self.gate[0] == seq:
            assert self.gate[1].wait(10), "the gate was never opened"
        return self.rows.get(seq)


@pytest.mark.parametrize("read_ahead", [1, 2, 3])
def test_chunk_reader_returns_the_chunks_in_order(read_ahead: int) -> None:
    """Whatever it fetches ahead, the reader hands out exactly the stored bytes, each chunk fetched once."""
    data = os.urandom(10 * 1000 + 7)
    table = _Chunks(data, 1000)
    reader = ChunkReader("a" * 64, len(data), table.fetch, lambda _: True, read_ahead=read_ahead)
    with io.BufferedReader(reader) as stream:
        assert stream.read() == data
    assert sorted(table.fetched) == list(range(11))


def test_chunk_reader_fetches_the_next_chunks_while_one_is_slow() -> None:
    """With read_ahead=2, chunk 2 is fetched while chunk 1 is still on its way (two connections busy at once)."""
    data = os.urandom(4 * 1000)
    table = _Chunks(data, 1000)
    release = threading.Event()
    table.gate = (1, release)
    reader = ChunkReader("a" * 64, len(data), table.fetch, lambda _: True, read_ahead=2)
    assert reader.read(1000) == data[:1000]
    deadline = time.monotonic() + 10
    while 2 not in table.fetched and time.monotonic() < deadline:
        time.sleep(0.001)
    assert 2 in table.fetched and 3 not in table.fetched  # never more than read_ahead on their way
    release.set()
    assert b"".join(iter(lambda: reader.read(1000), b"")) == data[1000:]
    reader.close()


def test_chunk_reader_reports_a_missing_chunk_fetched_ahead() -> None:
    """A chunk missing in the middle is a truncated artifact even when it was fetched ahead; close stops the rest."""
    data = os.urandom(5 * 1000)
    reader = ChunkReader("a" * 64, len(data), _Chunks(data, 1000, missing=2).fetch, lambda _: True, read_ahead=2)
    assert reader.read(1000) == data[:1000] and reader.read(1000) == data[1000:2000]
    with pytest.raises(IntegrityError, match="chunk 2 is missing after 2000"):
        reader.read(1000)
    reader.close()
    assert reader.closed
