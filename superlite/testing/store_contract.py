"""The contract every store backend proves it keeps: one suite, run against each backend.

Like SQLAlchemy's dialect test suite, a backend (built in or a plugin) imports the classes and
subclasses them in one of its own test modules, providing a fixture for the store under test::

    from superlite.testing.store_contract import ArtifactStoreContract, MetadataStoreContract

    class TestMyMetadataStore(MetadataStoreContract):
        @pytest.fixture
        def metadata_store(self):
            ...  # an empty store, closed afterwards

    class TestMyArtifactStore(ArtifactStoreContract):
        @pytest.fixture
        def artifact_store(self):
            ...

Every test expects an empty store of its own. The classes' names do not start with ``Test``, so
pytest collects only the subclasses.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from superlite.errors import (
    IntegrityError,
    NotFoundError,
    SerializationError,
    SuperliteError,
    VersionConflictError,
)
from superlite.serialization.hashing import digest_of
from superlite.stores.base import (
    CHUNK_SIZE,
    AliasChange,
    AliasState,
    ArtifactStore,
    ComponentRecord,
    MetadataStore,
    PendingMove,
    WorkerStatus,
)
from superlite.testing.fixtures import (
    make_record,
    make_ref,
    pieces,
    put_bytes,
    random_bytes,
    read_all,
)

#: Threads racing in the concurrency tests.
RACERS = 6


def _without_time(record: ComponentRecord | None) -> ComponentRecord | None:
    return replace(record, created_at=None) if record is not None else None


def _race(count: int, work: Callable[[int], object]) -> list[BaseException | None]:
    """Run ``work(i)`` in ``count`` threads released together; each one's exception or None."""
    barrier = threading.Barrier(count)
    outcomes: list[BaseException | None] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _alias(version: int = 0, revision: int = 1, **changes: object) -> AliasState:
    state = AliasState("model", "sentiment", "production", version, f"uuid-{version}", revision=revision)
    return replace(state, **changes)  # type: ignore[arg-type]


def _change(action: str = "set", after: AliasState | None = None) -> AliasChange:
    return AliasChange(
        "model", "sentiment", "production", action, None, after.to_dict() if after else None, "tester@host:1", "why not"
    )


class AliasStoreContract:
    """What a metadata store must do with aliases: compare-and-set moves and a history."""

    def test_set_read_and_list(self, metadata_store: MetadataStore) -> None:
        state = _alias(3, previous_version=1)
        metadata_store.write_alias(_change(after=state), state, 0)
        stored = metadata_store.alias("model", "sentiment", "production")
        assert stored is not None and replace(stored, updated_at=None) == replace(state, updated_at=None)
        assert stored.updated_at is not None and stored.updated_at.tzinfo is not None
        assert [s.alias for s in metadata_store.aliases("model", "sentiment")] == ["production"]
        assert metadata_store.aliases("model", "other") == [] and metadata_store.alias("model", "x", "production") is None

    def test_canary_fields_round_trip(self, metadata_store: MetadataStore) -> None:
        state = _alias(3, canary_version=4, canary_uuid="uuid-4", canary_percent=10)
        metadata_store.write_alias(_change("canary", state), state, 0)
        stored = metadata_store.alias("model", "sentiment", "production")
        assert stored is not None and (stored.canary_version, stored.canary_uuid, stored.canary_percent) == (4, "uuid-4", 10)

    def test_move_needs_the_expected_revision(self, metadata_store: MetadataStore) -> None:
        metadata_store.write_alias(_change(), _alias(0), 0)
        with pytest.raises(VersionConflictError):
            metadata_store.write_alias(_change(), _alias(1, revision=2), 0)
        with pytest.raises(VersionConflictError):
            metadata_store.write_alias(_change(), _alias(1, revision=3), 2)
        metadata_store.write_alias(_change(), _alias(1, revision=2), 1)
        assert metadata_store.alias("model", "sentiment", "production").version == 1  # type: ignore[union-attr]
        assert len(metadata_store.alias_history("model", "sentiment")) == 2

    def test_delete_needs_the_expected_revision(self, metadata_store: MetadataStore) -> None:
        metadata_store.write_alias(_change(), _alias(0), 0)
        with pytest.raises(VersionConflictError):
            metadata_store.write_alias(_change("remove"), None, 5)
        metadata_store.write_alias(_change("remove"), None, 1)
        assert metadata_store.alias("model", "sentiment", "production") is None

    def test_history_is_newest_first_and_filtered(self, metadata_store: MetadataStore) -> None:
        first, second = _alias(0), _alias(1, revision=2)
        metadata_store.write_alias(_change(after=first), first, 0)
        metadata_store.write_alias(_change(after=second), second, 1)
        staging = replace(_alias(0), alias="staging")
        metadata_store.write_alias(replace(_change(after=staging), alias="staging"), staging, 0)
        history = metadata_store.alias_history("model", "sentiment")
        assert [(c.alias, c.after["version"] if c.after else None) for c in history] == [
            ("staging", 0), ("production", 1), ("production", 0)
        ]
        assert [c.alias for c in metadata_store.alias_history("model", "sentiment", "production", limit=1)] == ["production"]
        newest = history[0]
        assert (newest.who, newest.why, newest.action) == ("tester@host:1", "why not", "set")
        assert newest.at is not None and newest.at.tzinfo is not None

    def test_alias_moves_are_in_the_change_feed(self, metadata_store: MetadataStore) -> None:
        since = metadata_store.last_change_id()
        state = _alias(3)
        metadata_store.write_alias(_change(after=state), state, 0)
        with pytest.raises(VersionConflictError):
            metadata_store.write_alias(_change(), _alias(4, revision=9), 0)
        metadata_store.write_alias(_change("remove"), None, 1)
        events = metadata_store.changes(since)
        assert [(e.kind, e.uuid, e.version, e.payload["alias"], e.payload["action"]) for e in events] == [
            ("alias", "uuid-3", 3, "production", "set"),
            ("alias", None, None, "production", "remove"),
        ]

    def test_concurrent_moves_have_one_winner_per_revision(self, metadata_store: MetadataStore) -> None:
        metadata_store.write_alias(_change(), _alias(0), 0)
        outcomes = _race(RACERS, lambda i: metadata_store.write_alias(_change(), _alias(i + 1, revision=2), 1))
        assert sum(outcome is None for outcome in outcomes) == 1
        assert all(outcome is None or isinstance(outcome, VersionConflictError) for outcome in outcomes)
        assert len(metadata_store.alias_history("model", "sentiment")) == 2


def _worker(pid: int = 1, **changes: object) -> WorkerStatus:
    status = WorkerStatus(
        f"host:{pid}", "host", pid, ("superlite",), ("model:sentiment@production",), "latest:1",
        ({"uuid": "uuid-3", "type_id": "model", "identifier": "sentiment", "version": 3, "size": 10},),
        {"uuid-3": {"state": "ready", "reason": None}}, 2.0,
    )
    return replace(status, **changes)  # type: ignore[arg-type]


class WorkerStoreContract:
    """What a metadata store must do for hot swaps: worker heartbeats, pending moves, refused moves."""

    def test_worker_rows_upsert_and_list(self, metadata_store: MetadataStore) -> None:
        metadata_store.write_worker(_worker(2))
        metadata_store.write_worker(_worker(1))
        failed = {"uuid-4": {"state": "failed", "reason": "ValueError: boom"}}
        metadata_store.write_worker(_worker(1, targets=failed, loaded=()))
        listed = metadata_store.workers()
        assert [w.id for w in listed] == ["host:1", "host:2"]
        first = listed[0]
        assert (first.host, first.pid, first.queues, first.follow, first.policy) == (
            "host", 1, ("superlite",), ("model:sentiment@production",), "latest:1"
        )
        assert dict(first.targets) == failed and first.loaded == () and first.heartbeat_interval == 2.0
        assert first.heartbeat_at is not None and first.heartbeat_at.tzinfo is not None
        assert abs(first.heartbeat_at - datetime.now(UTC)) < timedelta(minutes=5)
        assert dict(listed[1].loaded[0])["version"] == 3

    def test_heartbeat_time_round_trips(self, metadata_store: MetadataStore) -> None:
        moment = datetime(2024, 5, 17, 13, 45, 12, 345000, tzinfo=UTC)
        metadata_store.write_worker(_worker(1, heartbeat_at=moment, started_at=moment))
        stored = metadata_store.workers()[0]
        assert stored.heartbeat_at is not None and abs(stored.heartbeat_at - moment) < timedelta(milliseconds=1)

    def test_remove_workers(self, metadata_store: MetadataStore) -> None:
        for pid in (1, 2, 3):
            metadata_store.write_worker(_worker(pid))
        metadata_store.remove_workers(["host:1", "host:3", "host:unknown"])
        metadata_store.remove_workers([])
        assert [w.id for w in metadata_store.workers()] == ["host:2"]

    def test_pending_moves(self, metadata_store: MetadataStore) -> None:
        expires = datetime.now(UTC) + timedelta(minutes=1)
        first = PendingMove("move-1", "model", "sentiment", "production", ("uuid-4",), "tester@host:1", expires)
        second = replace(first, id="move-2", uuids=("uuid-5", "uuid-6"))
        metadata_store.add_pending(first)
        metadata_store.add_pending(second)
        moves = metadata_store.pending_moves()
        assert [(m.id, m.uuids, m.alias, m.requested_by) for m in moves] == [
            ("move-1", ("uuid-4",), "production", "tester@host:1"), ("move-2", ("uuid-5", "uuid-6"), "production", "tester@host:1")
        ]
        assert abs(moves[0].expires_at - expires) < timedelta(milliseconds=1)
        metadata_store.remove_pending(["move-1", "unknown"])
        assert [m.id for m in metadata_store.pending_moves()] == ["move-2"]

    def test_a_refused_move_is_recorded_without_moving(self, metadata_store: MetadataStore) -> None:
        state = _alias(3)
        metadata_store.write_alias(_change(after=state), state, 0)
        refused = replace(_change("set-refused", after=_alias(4, revision=2)), why="warm-up failed")
        metadata_store.record_alias_change(refused)
        assert metadata_store.alias("model", "sentiment", "production").revision == 1  # type: ignore[union-attr]
        history = metadata_store.alias_history("model", "sentiment")
        assert [(c.action, c.why) for c in history] == [("set-refused", "warm-up failed"), ("set", "why not")]


class MetadataStoreContract(AliasStoreContract, WorkerStoreContract):
    """What every :class:`~superlite.stores.base.MetadataStore` must do.

    Needs a ``metadata_store`` fixture: an empty store of the backend under test.
    """

    def test_insert_then_get_returns_the_record(self, metadata_store: MetadataStore) -> None:
        """A record reads back field for field, by name and version and by uuid."""
        record = make_record(
            params={"threshold": 0.5, "labels": ["neg", "pos"], "nested": {"a": None, "b": True}, "name": "é✓"},
            artifacts=[make_ref("object", b"weights"), make_ref("tokenizer", b"vocab", "numpy")],
            dependencies=["dependency-uuid-1", "dependency-uuid-0"],
        )
        metadata_store.insert(record)
        assert _without_time(metadata_store.get("model", "sentiment", 0)) == record
        assert _without_time(metadata_store.get_by_uuid(record.uuid)) == record

    def test_version_info_round_trips_and_can_be_replaced(self, metadata_store: MetadataStore) -> None:
        """``info`` is stored with the record, read back, and replaced by ``update_info`` alone."""
        info = {"description": "first", "tags": {"team": "nlp"}, "metrics": {"accuracy": 0.91}, "source": {"run": "r1"}}
        record = replace(make_record(), info=info)
        metadata_store.insert(record)
        assert metadata_store.get_by_uuid(record.uuid).info == info  # type: ignore[union-attr]
        metadata_store.update_info(record.uuid, {**info, "tags": {"team": "nlp", "stage": "prod"}})
        stored = metadata_store.get("model", "sentiment", 0)
        assert stored is not None and stored.info["tags"] == {"team": "nlp", "stage": "prod"}
        assert stored.content_hash == record.content_hash and stored.params == record.params
        metadata_store.update_info(record.uuid, {})
        assert metadata_store.get_by_uuid(record.uuid).info == {}  # type: ignore[union-attr]
        with pytest.raises(NotFoundError):
            metadata_store.update_info("no-such-uuid", {"description": "x"})

    def test_a_record_without_info_reads_back_empty(self, metadata_store: MetadataStore) -> None:
        """Records written without metadata (as by older releases) read back with ``info == {}``."""
        metadata_store.insert(make_record())
        assert metadata_store.get("model", "sentiment").info == {}  # type: ignore[union-attr]

    def test_find_by_content_returns_the_oldest_match(self, metadata_store: MetadataStore) -> None:
        """The lowest version with the content hash, only of that identifier, or None."""
        first = make_record(version=0, params={"a": 1})
        metadata_store.insert(first)
        metadata_store.insert(make_record(version=1, params={"a": 2}))
        metadata_store.insert(replace(make_record(version=2, params={"a": 1}), uuid="later-same-content"))
        metadata_store.insert(make_record("other", 0, params={"a": 1}))
        found = metadata_store.find_by_content("model", "sentiment", first.content_hash)
        assert found is not None and found.uuid == first.uuid
        assert metadata_store.find_by_content("model", "sentiment", "0" * 64) is None

    def test_created_at_is_set_and_aware(self, metadata_store: MetadataStore) -> None:
        """A record stored without ``created_at`` gets one: timezone-aware, close to now."""
        before = datetime.now(UTC)
        metadata_store.insert(make_record())
        stored = metadata_store.get("model", "sentiment")
        assert stored is not None and stored.created_at is not None
        assert stored.created_at.tzinfo is not None
        assert abs(stored.created_at - before) < timedelta(minutes=5)

    def test_created_at_round_trips(self, metadata_store: MetadataStore) -> None:
        """A given ``created_at`` reads back as the same instant (to the millisecond)."""
        moment = datetime(2024, 5, 17, 13, 45, 12, 345000, tzinfo=timezone(timedelta(hours=2)))
        metadata_store.insert(replace(make_record(), created_at=moment))
        stored = metadata_store.get("model", "sentiment")
        assert stored is not None and stored.created_at is not None
        assert abs(stored.created_at - moment) < timedelta(milliseconds=1)

    def test_get_missing_returns_none(self, metadata_store: MetadataStore) -> None:
        """Unknown names, versions and uuids read as None, not as an error."""
        metadata_store.insert(make_record())
        assert metadata_store.get("model", "unknown") is None
        assert metadata_store.get("model", "sentiment", 7) is None
        assert metadata_store.get("listener", "sentiment") is None
        assert metadata_store.get_by_uuid("no-such-uuid") is None

    def test_get_without_version_returns_the_highest(self, metadata_store: MetadataStore) -> None:
        """The latest version is the highest number, whatever order the versions were written in."""
        for version in (2, 0, 10, 1):
            metadata_store.insert(make_record(version=version))
        latest = metadata_store.get("model", "sentiment")
        assert latest is not None and latest.version == 10

    def test_versions_are_numbers_oldest_first(self, metadata_store: MetadataStore) -> None:
        """Versions sort as integers (10 after 9), and only one identifier's versions are listed."""
        for version in (10, 2, 9, 0):
            metadata_store.insert(make_record(version=version))
        metadata_store.insert(make_record("other", 5))
        assert metadata_store.versions("model", "sentiment") == [0, 2, 9, 10]
        assert metadata_store.versions("model", "unknown") == []

    def test_type_ids_and_identifiers_are_sorted_and_distinct(self, metadata_store: MetadataStore) -> None:
        """Each type_id and identifier is listed once, sorted; identifiers belong to their type."""
        metadata_store.insert(make_record("b-model", 0))
        metadata_store.insert(make_record("b-model", 1))
        metadata_store.insert(make_record("a-model", 0))
        metadata_store.insert(make_record("reader", 0, type_id="listener"))
        assert metadata_store.type_ids() == ["listener", "model"]
        assert metadata_store.identifiers("model") == ["a-model", "b-model"]
        assert metadata_store.identifiers("listener") == ["reader"]
        assert metadata_store.identifiers("dataset") == []

    def test_identifiers_are_case_sensitive(self, metadata_store: MetadataStore) -> None:
        """``Sentiment`` and ``sentiment`` are two components, each with its own version 0."""
        metadata_store.insert(make_record("sentiment", 0))
        metadata_store.insert(make_record("Sentiment", 0))
        assert metadata_store.identifiers("model") == ["Sentiment", "sentiment"]

    def test_same_version_of_other_identifier_or_type_is_fine(self, metadata_store: MetadataStore) -> None:
        """Uniqueness is on the whole ``(type_id, identifier, version)``."""
        metadata_store.insert(make_record("a", 0))
        metadata_store.insert(make_record("b", 0))
        metadata_store.insert(make_record("a", 0, type_id="listener"))
        assert metadata_store.versions("model", "a") == [0]

    def test_taken_version_raises_version_conflict(self, metadata_store: MetadataStore) -> None:
        """A second record with the same version is refused, and the first one stays as it was."""
        first = make_record()
        metadata_store.insert(first)
        with pytest.raises(VersionConflictError):
            metadata_store.insert(make_record(params={"batch_size": 99}))
        assert _without_time(metadata_store.get("model", "sentiment", 0)) == first
        assert metadata_store.versions("model", "sentiment") == [0]

    def test_refused_insert_leaves_nothing_behind(self, metadata_store: MetadataStore) -> None:
        """A refused record leaves no artifact reference and no dependency of its own."""
        base = make_record("base")
        metadata_store.insert(base)
        metadata_store.insert(make_record())
        loser = make_record(artifacts=[make_ref("object", b"loser bytes")], dependencies=[base.uuid])
        with pytest.raises(VersionConflictError):
            metadata_store.insert(loser)
        assert metadata_store.get_by_uuid(loser.uuid) is None
        assert metadata_store.artifact_references(loser.artifacts[0].digest) == 0
        assert loser.artifacts[0].digest not in metadata_store.referenced_artifacts()
        assert metadata_store.dependents([base.uuid]) == []

    def test_duplicate_uuid_is_refused(self, metadata_store: MetadataStore) -> None:
        """A second record with a uuid already stored raises, and stores nothing."""
        first = make_record()
        metadata_store.insert(first)
        with pytest.raises(SuperliteError):
            metadata_store.insert(make_record(version=1, uuid=first.uuid, artifacts=[make_ref("x", b"dup")]))
        assert metadata_store.versions("model", "sentiment") == [0]
        assert _without_time(metadata_store.get_by_uuid(first.uuid)) == first
        assert metadata_store.artifact_references(make_ref("x", b"dup").digest) == 0

    def test_parameters_that_are_not_json_are_refused(self, metadata_store: MetadataStore) -> None:
        """Parameters must be JSON values: anything else raises SerializationError, storing nothing."""
        with pytest.raises(SerializationError):
            metadata_store.insert(make_record(params={"callback": object()}))
        assert metadata_store.versions("model", "sentiment") == []

    def test_concurrent_inserts_of_one_version_have_one_winner(self, metadata_store: MetadataStore) -> None:
        """Racing writers of the same version: exactly one succeeds, the others get VersionConflictError."""
        records = [make_record(params={"writer": i}) for i in range(RACERS)]
        outcomes = _race(RACERS, lambda i: metadata_store.insert(records[i]))
        winners = [i for i, outcome in enumerate(outcomes) if outcome is None]
        assert len(winners) == 1, outcomes
        assert all(isinstance(o, VersionConflictError) for o in outcomes if o is not None), outcomes
        stored = metadata_store.get("model", "sentiment", 0)
        assert stored is not None and stored.uuid == records[winners[0]].uuid

    def test_dependents(self, metadata_store: MetadataStore) -> None:
        """Direct dependents are found, without the records asked about and without duplicates."""
        base = make_record("base")
        middle = make_record("middle", dependencies=[base.uuid])
        top = make_record("top", dependencies=[base.uuid, middle.uuid])
        unrelated = make_record("unrelated")
        for record in (base, middle, top, unrelated):
            metadata_store.insert(record)
        assert sorted(r.uuid for r in metadata_store.dependents([base.uuid])) == sorted([middle.uuid, top.uuid])
        assert [r.uuid for r in metadata_store.dependents([base.uuid, middle.uuid])] == [top.uuid]
        assert _without_time(metadata_store.dependents([middle.uuid])[0]) == top
        assert metadata_store.dependents([top.uuid]) == []
        assert metadata_store.dependents([]) == []

    def test_delete_removes_records_with_their_references(self, metadata_store: MetadataStore) -> None:
        """Deleted records disappear with their artifact references and dependencies; others stay."""
        base = make_record("base", artifacts=[make_ref("object", b"base")])
        doomed = make_record("doomed", artifacts=[make_ref("object", b"doomed")], dependencies=[base.uuid])
        kept = make_record("kept", artifacts=[make_ref("object", b"base")])
        for record in (base, doomed, kept):
            metadata_store.insert(record)
        metadata_store.delete([doomed.uuid])
        assert metadata_store.get_by_uuid(doomed.uuid) is None
        assert metadata_store.identifiers("model") == ["base", "kept"]
        assert metadata_store.artifact_references(make_ref("object", b"doomed").digest) == 0
        assert metadata_store.artifact_references(make_ref("object", b"base").digest) == 2
        assert metadata_store.dependents([base.uuid]) == []
        assert _without_time(metadata_store.get_by_uuid(kept.uuid)) == kept

    def test_delete_several_and_unknown(self, metadata_store: MetadataStore) -> None:
        """Several records go at once; unknown uuids and an empty list are not errors."""
        records = [make_record(version=v) for v in range(3)]
        for record in records:
            metadata_store.insert(record)
        metadata_store.delete([records[0].uuid, records[2].uuid, "no-such-uuid"])
        metadata_store.delete([])
        assert metadata_store.versions("model", "sentiment") == [1]

    def test_version_number_can_be_reused_after_delete(self, metadata_store: MetadataStore) -> None:
        """Deleting a version frees its number."""
        first = make_record()
        metadata_store.insert(first)
        metadata_store.delete([first.uuid])
        metadata_store.insert(make_record())
        assert metadata_store.versions("model", "sentiment") == [0]

    def test_artifact_references_count_records(self, metadata_store: MetadataStore) -> None:
        """References count records, not fields; ``referenced_artifacts`` lists every hash in use."""
        shared, own = make_ref("object", b"shared"), make_ref("object", b"own")
        metadata_store.insert(make_record("a", artifacts=[shared, replace(shared, name="copy")]))
        metadata_store.insert(make_record("b", artifacts=[shared]))
        metadata_store.insert(make_record("c", artifacts=[own]))
        metadata_store.insert(make_record("d"))
        assert metadata_store.artifact_references(shared.digest) == 2
        assert metadata_store.artifact_references(own.digest) == 1
        assert metadata_store.artifact_references(hashlib.sha256(b"unused").hexdigest()) == 0
        assert metadata_store.referenced_artifacts() == {shared.digest, own.digest}

    def test_empty_store(self, metadata_store: MetadataStore) -> None:
        """An empty store lists nothing."""
        assert metadata_store.type_ids() == []
        assert metadata_store.referenced_artifacts() == set()
        assert metadata_store.get("model", "sentiment") is None

    def test_close_twice_is_harmless(self, metadata_store: MetadataStore) -> None:
        """``close`` may be called more than once."""
        metadata_store.close()
        metadata_store.close()

    # -- schema ----------------------------------------------------------------------------------

    def test_schema_is_up_to_date_after_open(self, metadata_store: MetadataStore) -> None:
        """A newly opened store is at the newest revision; upgrading again changes nothing."""
        status = metadata_store.schema_status()
        assert status.up_to_date and status.pending == ()
        assert status.current == status.head
        assert metadata_store.upgrade() == status

    # -- change feed -----------------------------------------------------------------------------

    def test_empty_feed(self, metadata_store: MetadataStore) -> None:
        """Before any change the feed is empty and its last id is 0."""
        assert metadata_store.changes() == []
        assert metadata_store.last_change_id() == 0

    def test_insert_and_delete_write_events_in_order(self, metadata_store: MetadataStore) -> None:
        """Each insert writes an "apply" event and each deleted record a "remove" event, ids rising."""
        before = datetime.now(UTC)
        first, second = make_record(version=0), make_record(version=1)
        metadata_store.insert(first)
        metadata_store.insert(second)
        metadata_store.delete([first.uuid, "no-such-uuid"])
        events = metadata_store.changes()
        seen = [(e.kind, e.type_id, e.identifier, e.uuid, e.version) for e in events]
        assert seen == [
            ("apply", "model", "sentiment", first.uuid, 0),
            ("apply", "model", "sentiment", second.uuid, 1),
            ("remove", "model", "sentiment", first.uuid, 0),
        ]
        assert [e.id for e in events] == sorted({e.id for e in events})
        for event in events:
            assert event.created_at is not None and abs(event.created_at - before) < timedelta(minutes=5)
        assert metadata_store.last_change_id() >= events[-1].id
        assert metadata_store.changes(since=metadata_store.last_change_id()) == []

    def test_changes_page_with_since_and_limit(self, metadata_store: MetadataStore) -> None:
        """``since`` skips what was read, ``limit`` caps a page; paging visits every event once."""
        for version in range(5):
            metadata_store.insert(make_record(version=version))
        pages, since = [], 0
        while page := metadata_store.changes(since=since, limit=2):
            pages.append([event.version for event in page])
            since = page[-1].id
        assert pages == [[0, 1], [2, 3], [4]]
        assert metadata_store.changes(since=since) == []

    def test_refused_writes_leave_no_event(self, metadata_store: MetadataStore) -> None:
        """A version conflict, a duplicate uuid, bad parameters or an unknown delete write no event."""
        first = make_record()
        metadata_store.insert(first)
        mark = metadata_store.changes()[-1].id
        with pytest.raises(VersionConflictError):
            metadata_store.insert(make_record(params={"other": True}))
        with pytest.raises(SuperliteError):
            metadata_store.insert(make_record(version=1, uuid=first.uuid))
        with pytest.raises(SerializationError):
            metadata_store.insert(make_record("bad", params={"callback": object()}))
        metadata_store.delete(["no-such-uuid"])
        assert metadata_store.changes(since=mark) == []
        metadata_store.insert(make_record(version=1))
        assert [(e.kind, e.version) for e in metadata_store.changes(since=mark)] == [("apply", 1)]

    def test_concurrent_writers_get_distinct_rising_ids(self, metadata_store: MetadataStore) -> None:
        """Racing inserts each write one event; ids are unique and the feed lists them in id order."""
        records = [make_record(f"racer-{i}") for i in range(RACERS)]
        outcomes = _race(RACERS, lambda i: metadata_store.insert(records[i]))
        assert outcomes == [None] * RACERS
        events = metadata_store.changes()
        assert sorted(e.uuid for e in events) == sorted(r.uuid for r in records)
        assert [e.id for e in events] == sorted({e.id for e in events})


class _FailingStream:
    """Chunks that break off with an error after ``good`` pieces."""

    def __init__(self, data: bytes, piece: int, good: int) -> None:
        self._pieces = list(pieces(data, piece))[:good]

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces
        raise RuntimeError("the source broke mid-stream")


class ArtifactStoreContract:
    """What every :class:`~superlite.stores.base.ArtifactStore` must do.

    Needs an ``artifact_store`` fixture: an empty store of the backend under test.
    """

    def test_small_round_trip(self, artifact_store: ArtifactStore) -> None:
        """Bytes read back exactly; the artifact exists and is listed."""
        sha256 = put_bytes(artifact_store, b"hello, model")
        assert read_all(artifact_store.open(sha256)) == b"hello, model"
        assert artifact_store.exists(sha256)
        assert artifact_store.list() == {sha256}

    def test_multi_chunk_round_trip(self, artifact_store: ArtifactStore) -> None:
        """An artifact of several chunks, put in odd-sized pieces, reads back byte for byte."""
        data = random_bytes(3 * CHUNK_SIZE + 17, seed=1)
        sha256 = put_bytes(artifact_store, data, piece_size=(1 << 20) + 3)
        with artifact_store.open(sha256) as stream:
            head = stream.read(1000)
            rest = stream.read()
        assert len(head) + len(rest) == len(data)
        assert hashlib.sha256(head + rest).hexdigest() == sha256

    def test_read_in_small_and_chunk_sized_reads(self, artifact_store: ArtifactStore) -> None:
        """Reads of any size, across chunk boundaries, see the right bytes."""
        data = random_bytes(CHUNK_SIZE + 5, seed=2)
        sha256 = put_bytes(artifact_store, data)
        with artifact_store.open(sha256) as stream:
            assert stream.read(3) == data[:3]
            assert stream.read(CHUNK_SIZE) == data[3 : CHUNK_SIZE + 3]
            assert stream.read(10) == data[CHUNK_SIZE + 3 :]
            assert stream.read(10) == b""

    def test_empty_artifact(self, artifact_store: ArtifactStore) -> None:
        """Zero bytes are an artifact like any other."""
        sha256 = put_bytes(artifact_store, b"")
        assert artifact_store.exists(sha256)
        assert read_all(artifact_store.open(sha256)) == b""

    def test_put_twice_is_a_no_op(self, artifact_store: ArtifactStore) -> None:
        """Putting bytes already stored changes nothing and raises nothing."""
        first = put_bytes(artifact_store, b"same bytes")
        second = put_bytes(artifact_store, b"same bytes")
        assert first == second
        assert artifact_store.list() == {first}
        assert read_all(artifact_store.open(first)) == b"same bytes"

    def test_failed_put_stores_nothing(self, artifact_store: ArtifactStore) -> None:
        """A source that breaks mid-stream leaves no trace: never a partial artifact."""
        data = random_bytes(2 * CHUNK_SIZE + 1, seed=3)
        sha256 = hashlib.sha256(data).hexdigest()
        with pytest.raises(RuntimeError):
            artifact_store.put(sha256, _FailingStream(data, CHUNK_SIZE // 2, good=3), len(data))
        assert not artifact_store.exists(sha256)
        assert artifact_store.list() == set()
        with pytest.raises(NotFoundError):
            artifact_store.open(sha256)
        artifact_store.put(sha256, pieces(data, CHUNK_SIZE), len(data))
        assert hashlib.sha256(read_all(artifact_store.open(sha256))).hexdigest() == sha256

    def test_wrong_size_is_refused(self, artifact_store: ArtifactStore) -> None:
        """Bytes that do not add up to the announced size raise IntegrityError and are not kept."""
        sha256 = hashlib.sha256(b"twelve bytes").hexdigest()
        with pytest.raises(IntegrityError):
            artifact_store.put(sha256, [b"twelve bytes"], 13)
        assert not artifact_store.exists(sha256)

    def test_open_missing_raises_not_found(self, artifact_store: ArtifactStore) -> None:
        """Opening an absent artifact raises NotFoundError (a LookupError)."""
        with pytest.raises(NotFoundError):
            artifact_store.open(hashlib.sha256(b"absent").hexdigest())
        assert not artifact_store.exists(hashlib.sha256(b"absent").hexdigest())

    def test_delete(self, artifact_store: ArtifactStore) -> None:
        """A deleted artifact is gone; others stay; deleting an absent one is not an error."""
        doomed = put_bytes(artifact_store, random_bytes(CHUNK_SIZE + 1, seed=4))
        kept = put_bytes(artifact_store, b"kept")
        artifact_store.delete(doomed)
        artifact_store.delete(doomed)
        assert not artifact_store.exists(doomed)
        assert artifact_store.list() == {kept}
        with pytest.raises(NotFoundError):
            artifact_store.open(doomed)
        assert read_all(artifact_store.open(kept)) == b"kept"

    def test_touch_renews_and_reports_presence(self, artifact_store: ArtifactStore) -> None:
        """``touch`` is True for a stored artifact (which then counts as just used), False for an absent one."""
        sha256 = put_bytes(artifact_store, b"used")
        time.sleep(0.01)
        before = datetime.now(UTC)
        time.sleep(0.01)
        assert artifact_store.touch(sha256)
        assert not artifact_store.delete(sha256, unused_since=before)
        assert not artifact_store.touch(hashlib.sha256(b"absent").hexdigest())
        assert not artifact_store.exists(hashlib.sha256(b"absent").hexdigest())

    def test_delete_unused_since(self, artifact_store: ArtifactStore) -> None:
        """A conditional delete keeps an artifact used at or after the instant, removes an older one."""
        sha256 = put_bytes(artifact_store, random_bytes(CHUNK_SIZE + 1, seed=6))
        assert not artifact_store.delete(sha256, unused_since=datetime.now(UTC) - timedelta(hours=1))
        assert artifact_store.exists(sha256)
        time.sleep(0.01)
        assert artifact_store.delete(sha256, unused_since=datetime.now(UTC))
        assert not artifact_store.exists(sha256)
        assert artifact_store.list() == set()
        assert not artifact_store.delete(sha256, unused_since=datetime.now(UTC))
        put_bytes(artifact_store, random_bytes(CHUNK_SIZE + 1, seed=6))
        assert artifact_store.exists(sha256)

    def test_put_of_stored_bytes_renews_them(self, artifact_store: ArtifactStore) -> None:
        """Putting bytes already stored counts as using them."""
        sha256 = put_bytes(artifact_store, b"again and again")
        time.sleep(0.01)
        before = datetime.now(UTC)
        time.sleep(0.01)
        put_bytes(artifact_store, b"again and again")
        assert not artifact_store.delete(sha256, unused_since=before)
        assert read_all(artifact_store.open(sha256)) == b"again and again"

    def test_put_after_delete(self, artifact_store: ArtifactStore) -> None:
        """Bytes deleted can be stored again."""
        sha256 = put_bytes(artifact_store, b"again")
        artifact_store.delete(sha256)
        put_bytes(artifact_store, b"again")
        assert read_all(artifact_store.open(sha256)) == b"again"

    def test_list(self, artifact_store: ArtifactStore) -> None:
        """``list`` returns every stored hash and nothing else."""
        assert artifact_store.list() == set()
        stored = {put_bytes(artifact_store, f"artifact {i}".encode()) for i in range(5)}
        assert artifact_store.list() == stored

    def test_concurrent_puts_of_the_same_bytes_all_succeed(self, artifact_store: ArtifactStore) -> None:
        """Racing puts of one artifact (several chunks) all succeed and leave one whole copy."""
        data = random_bytes(CHUNK_SIZE + 3, seed=5)
        sha256 = hashlib.sha256(data).hexdigest()
        outcomes = _race(RACERS, lambda _: artifact_store.put(sha256, pieces(data, 1 << 20), len(data)))
        assert outcomes == [None] * RACERS
        assert artifact_store.list() == {sha256}
        assert hashlib.sha256(read_all(artifact_store.open(sha256))).hexdigest() == sha256

    def test_concurrent_puts_of_different_bytes(self, artifact_store: ArtifactStore) -> None:
        """Racing puts of different artifacts are all stored."""
        blobs = [random_bytes(1 << 16, seed=10 + i) for i in range(RACERS)]
        outcomes = _race(RACERS, lambda i: put_bytes(artifact_store, blobs[i]))
        assert outcomes == [None] * RACERS
        assert artifact_store.list() == {hashlib.sha256(b).hexdigest() for b in blobs}

    def test_streamed_put_is_named_by_its_digest_at_the_end(self, artifact_store: ArtifactStore) -> None:
        """``put_stream``: the digest is asked for only after the last chunk; nothing shows before."""
        data = random_bytes(2 * CHUNK_SIZE + 7, seed=20)
        digest = digest_of(data)
        seen_before_the_end: list[set[str]] = []

        def chunks() -> Iterator[bytes]:
            for piece in pieces(data, CHUNK_SIZE):
                yield piece
                seen_before_the_end.append(artifact_store.list())

        def named() -> str:
            assert len(seen_before_the_end) == 3  # every chunk was taken first
            return digest

        artifact_store.put_stream(chunks(), named)
        assert seen_before_the_end == [set(), set(), set()]
        assert artifact_store.list() == {digest}
        assert digest_of(read_all(artifact_store.open(digest))) == digest

    def test_streamed_put_of_stored_bytes_keeps_one_copy(self, artifact_store: ArtifactStore) -> None:
        """Streaming bytes already stored leaves the stored copy, renewed, and no second one."""
        data = random_bytes(CHUNK_SIZE + 1, seed=21)
        digest = digest_of(data)
        artifact_store.put(digest, pieces(data, CHUNK_SIZE), len(data))
        time.sleep(0.01)
        before = datetime.now(UTC)
        time.sleep(0.01)
        artifact_store.put_stream(pieces(data, 1 << 20), lambda: digest)
        assert artifact_store.list() == {digest}
        assert not artifact_store.delete(digest, unused_since=before)
        assert digest_of(read_all(artifact_store.open(digest))) == digest
        assert artifact_store.delete(digest)
        assert artifact_store.list() == set()

    def test_failed_streamed_put_stores_nothing(self, artifact_store: ArtifactStore) -> None:
        """A stream that breaks off leaves nothing visible, and the same bytes stream fine afterwards."""
        data = random_bytes(2 * CHUNK_SIZE + 1, seed=22)
        digest = digest_of(data)
        with pytest.raises(RuntimeError):
            artifact_store.put_stream(_FailingStream(data, CHUNK_SIZE // 2, good=3), lambda: digest)
        assert artifact_store.list() == set()
        assert not artifact_store.exists(digest)
        artifact_store.put_stream(pieces(data, CHUNK_SIZE), lambda: digest)
        assert digest_of(read_all(artifact_store.open(digest))) == digest

    def test_concurrent_streamed_puts_of_the_same_bytes_all_succeed(self, artifact_store: ArtifactStore) -> None:
        """Racing streamed puts of one artifact all succeed and leave one whole copy."""
        data = random_bytes(CHUNK_SIZE + 3, seed=23)
        digest = digest_of(data)
        outcomes = _race(RACERS, lambda _: artifact_store.put_stream(pieces(data, 1 << 20), lambda: digest))
        assert outcomes == [None] * RACERS
        assert artifact_store.list() == {digest}
        assert digest_of(read_all(artifact_store.open(digest))) == digest

    def test_close_twice_is_harmless(self, artifact_store: ArtifactStore) -> None:
        """``close`` may be called more than once."""
        artifact_store.close()
        artifact_store.close()
