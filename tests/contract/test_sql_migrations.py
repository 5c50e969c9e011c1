"""The SQL schema under Alembic: a database of the previous release upgraded, auto_upgrade off, NOTIFY."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import superlite
from superlite import ObjectModel
from superlite.config import Settings
from superlite.errors import SchemaVersionError
from superlite.stores.base import StoreBundle
from superlite.stores.sql import open_sql_stores
from superlite.stores.sql.engine import create_store_engine
from superlite.stores.sql.migrate import BASELINE, alembic_config, head
from superlite.stores.sql.schema import artifact_chunks, artifacts, component_artifacts, components, meta, metadata
from superlite.testing.databases import isolated_database
from superlite.testing.fixtures import make_record, make_ref


def _close(bundle: StoreBundle) -> None:
    bundle.metadata.close()
    bundle.artifacts.close()


def _engine(bundle: StoreBundle) -> sa.Engine:
    return bundle.extra["engine"]  # type: ignore[return-value]


def _write_previous_release_database(uri: str) -> str:
    """A database as the release before Alembic left it: revision 0001 only, no alembic_version, one record."""
    record = make_record("legacy", artifacts=[make_ref("object", b"old weights")])
    engine = create_store_engine(uri)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), BASELINE)
        connection.exec_driver_sql("DROP TABLE alembic_version")
        connection.execute(
            components.insert().values(
                uuid=record.uuid, type_id=record.type_id, identifier=record.identifier, version=0,
                class_path=record.class_path, params=dict(record.params), content_hash=record.content_hash,
                created_at=sa.func.now(),
            )
        )
        ref = record.artifacts[0]
        connection.execute(
            component_artifacts.insert().values(
                component_uuid=record.uuid, name=ref.name, position=0, sha256=ref.digest, size=ref.size,
                serializer=ref.serializer,
            )
        )
    engine.dispose()
    return record.uuid


def test_revisions_build_the_schema_the_code_reads(database_uri: str) -> None:
    """Upgrading a new database to head yields exactly the tables schema.py declares."""
    bundle = open_sql_stores(Settings(uri=database_uri))
    try:
        with _engine(bundle).connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        _close(bundle)


def test_database_of_the_previous_release_is_upgraded(database_uri: str) -> None:
    """Opening a pre-Alembic database stamps it 0001, upgrades it, keeps its records, and starts the feed."""
    old_uuid = _write_previous_release_database(database_uri)
    bundle = open_sql_stores(Settings(uri=database_uri))
    try:
        status = bundle.metadata.schema_status()
        assert status.current == head() and status.up_to_date
        old = bundle.metadata.get_by_uuid(old_uuid)
        assert old is not None and old.identifier == "legacy" and old.artifacts[0].size == len(b"old weights")
        assert bundle.metadata.changes() == []
        new = make_record("legacy", version=1)
        bundle.metadata.insert(new)
        bundle.metadata.delete([old_uuid])
        assert [(e.kind, e.uuid) for e in bundle.metadata.changes()] == [("apply", new.uuid), ("remove", old_uuid)]
        with _engine(bundle).connect() as connection:
            # releases before Alembic read this number, and refuse anything above 1
            assert connection.scalar(sa.select(meta.c.value)) == "4"
    finally:
        _close(bundle)


def test_previous_release_database_with_auto_upgrade_off_is_left_alone(database_uri: str) -> None:
    """auto_upgrade=False: the store opens and reports 0002 to 0006 pending; connect refuses and names the command."""
    _write_previous_release_database(database_uri)
    settings = Settings(uri=database_uri).with_options(auto_upgrade=False)
    bundle = open_sql_stores(settings)
    try:
        status = bundle.metadata.schema_status()
        assert (status.current, status.pending, status.up_to_date) == (BASELINE, ("0002", "0003", "0004", "0005", "0006"), False)
        with pytest.raises(SchemaVersionError, match="superlite db upgrade --uri"):
            superlite.connect(database_uri, auto_upgrade=False)
        assert bundle.metadata.upgrade().up_to_date
    finally:
        _close(bundle)
    with superlite.connect(database_uri, auto_upgrade=False) as db:
        assert db.show() == {"model": ["legacy"]}


def test_artifacts_stored_before_blake3_still_load(database_uri: str) -> None:
    """A SHA-256 artifact whose chunks sit under its digest (the layout before 0005) loads, verified."""
    with superlite.connect(database_uri, artifact_hash="sha256", broker=None) as db:
        db.apply(ObjectModel("old", object=abs))
        (ref,) = db.record("model", "old").artifacts
        assert len(ref.digest) == 64  # a bare SHA-256, as every release before BLAKE3 wrote
    engine = create_store_engine(database_uri)
    with engine.begin() as connection:
        key = connection.scalar(sa.select(artifacts.c.chunks_key).where(artifacts.c.sha256 == ref.digest))
        connection.execute(artifact_chunks.update().where(artifact_chunks.c.sha256 == key).values(sha256=ref.digest))
        connection.execute(artifacts.update().values(chunks_key=None))
    engine.dispose()
    with superlite.connect(database_uri, broker=None) as db:
        assert db.load("model", "old").predict(-3) == 3
        db.apply(ObjectModel("new", object=abs))
        assert db.record("model", "new").artifacts[0].digest.startswith("blake3:")
        db.remove("model", "old", force=True)
        db.collect_garbage()
        assert db.load("model", "new").predict(-4) == 4


def test_new_database_with_auto_upgrade_off_has_everything_pending(database_uri: str) -> None:
    """A brand-new database opened without auto_upgrade stays empty until upgraded."""
    bundle = open_sql_stores(Settings(uri=database_uri).with_options(auto_upgrade=False))
    try:
        status = bundle.metadata.schema_status()
        assert status.current is None and status.pending == (BASELINE, "0002", "0003", "0004", "0005", "0006")
        assert bundle.metadata.upgrade().current == head()
    finally:
        _close(bundle)


def test_postgresql_notifies_each_change() -> None:
    """On PostgreSQL a change also sends NOTIFY superlite_changes with its id."""
    with isolated_database("postgresql") as uri:
        bundle = open_sql_stores(Settings(uri=uri))
        listener = _engine(bundle).raw_connection()
        try:
            pg = listener.driver_connection
            pg.autocommit = True
            pg.execute("LISTEN superlite_changes")
            bundle.metadata.insert(make_record())
            notices = list(pg.notifies(timeout=10, stop_after=1))
            assert [n.payload for n in notices] == [str(bundle.metadata.last_change_id())]
        finally:
            listener.close()
            _close(bundle)
