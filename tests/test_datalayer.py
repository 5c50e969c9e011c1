"""The Datalayer against every SQL database: apply, versions, load, show, remove, artifacts."""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass

import pytest

import superlite
from superlite import Component, Model, ObjectModel, RemoteModel
from superlite.errors import (
    DependencyError,
    IntegrityError,
    InvalidArgumentError,
    NotFoundError,
    StoredClassImportError,
)


def double(x):
    return 2 * x


def triple(x):
    return 3 * x


@dataclass
class Pipeline(Component):
    """A component holding another component (stored as a reference)."""

    type_id = "pipeline"

    model: Model | None = None
    threshold: float = 0.5


def test_apply_assigns_version_and_uuid(db):
    model = db.apply(ObjectModel("double", object=double))
    assert model.version == 0
    assert model.uuid and model.version == 0
    assert db.show("model", "double") == [0]


def test_reapply_identical_content_creates_no_version(db):
    first = db.apply(ObjectModel("double", object=double))
    again = db.apply(ObjectModel("double", object=double))
    assert (again.version, again.uuid) == (first.version, first.uuid)
    assert db.show("model", "double") == [0]


def test_changed_content_gets_next_version(db):
    db.apply(ObjectModel("m", object=double))
    second = db.apply(ObjectModel("m", object=triple))
    third = db.apply(ObjectModel("m", object=double))
    assert (second.version, third.version) == (1, 2)
    assert db.show("model", "m") == [0, 1, 2]


def test_load_latest_by_version_and_by_uuid(db):
    v0 = db.apply(ObjectModel("m", object=double))
    v1 = db.apply(ObjectModel("m", object=triple))
    assert db.load("model", "m").predict(5) == 15
    assert db.load("model", "m", version=0).predict(5) == 10
    assert db.load("model", "m", uuid=v0.uuid).predict(5) == 10
    loaded = db.load("model", "m", uuid=v1.uuid)
    assert isinstance(loaded, RemoteModel) and loaded.version == 1


def test_load_is_lazy_until_the_model_is_needed(db):
    db.apply(ObjectModel("m", object=double))
    proxy = db.load("model", "m")
    assert not proxy.has_original
    assert proxy.original_model.predict(4) == 8
    assert proxy.has_original


def test_load_original_returns_the_real_component(db):
    db.apply(ObjectModel("m", object=double))
    original = db.load("model", "m", lazy=False)
    assert type(original) is ObjectModel
    assert original.predict(2) == 4 and original.version == 0


def test_unknown_identifier_lists_existing(db):
    db.apply(ObjectModel("known", object=double))
    with pytest.raises(NotFoundError, match="no model named 'unknown'; existing models: known"):
        db.load("model", "unknown")


def test_unknown_version_lists_versions(db):
    db.apply(ObjectModel("m", object=double))
    db.apply(ObjectModel("m", object=triple))
    with pytest.raises(NotFoundError, match=r"has no version 7; versions: \[0, 1\]") as info:
        db.load("model", "m", version=7)
    assert info.value.available == [0, 1]


def test_unknown_uuid(db):
    unknown = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFoundError, match=f"no component with uuid {unknown}"):
        db.load("model", uuid=unknown)
    with pytest.raises(InvalidArgumentError, match="uuid must be a UUID string .*not 'nope'"):
        db.load("model", uuid="nope")


def test_load_needs_identifier_or_uuid(db):
    with pytest.raises(TypeError, match="identifier or by uuid"):
        db.load("model")


def test_show_levels(db):
    db.apply(ObjectModel("a", object=double))
    db.apply(ObjectModel("b", object=double))
    db.apply(Pipeline("p", model=ObjectModel("inner", object=triple)))
    assert db.show() == {"model": ["a", "b", "inner"], "pipeline": ["p"]}
    assert db.show("model") == ["a", "b", "inner"]
    assert db.show("pipeline", "p") == [0]
    with pytest.raises(NotFoundError):
        db.show("model", "missing")


def test_child_component_is_applied_first_and_loaded_by_reference(db):
    pipeline = db.apply(Pipeline("p", model=ObjectModel("inner", object=triple), threshold=0.7))
    assert db.show("model", "inner") == [0]
    record = db.record("pipeline", "p")
    assert record.params["model"].startswith("&:component:model:inner:")
    assert record.dependencies == (pipeline.model.uuid,)
    loaded = db.load("pipeline", "p")
    assert loaded.threshold == 0.7
    assert loaded.model.predict(2) == 6


def test_remove_refuses_while_depended_on(db):
    db.apply(Pipeline("p", model=ObjectModel("inner", object=triple)))
    with pytest.raises(DependencyError, match="pipeline 'p' v0 depend on it"):
        db.remove("model", "inner")
    assert db.show("model", "inner") == [0]
    db.remove("pipeline", "p")
    db.remove("model", "inner")
    assert db.show() == {}


def test_remove_force_ignores_dependents(db):
    db.apply(Pipeline("p", model=ObjectModel("inner", object=triple)))
    db.remove("model", "inner", force=True)
    assert "inner" not in db.show("model")


def test_remove_one_version_keeps_others(db):
    db.apply(ObjectModel("m", object=double))
    db.apply(ObjectModel("m", object=triple))
    removed = db.remove("model", "m", version=0)
    assert [r.version for r in removed] == [0]
    assert db.show("model", "m") == [1]
    assert db.load("model", "m").predict(1) == 3


def test_remove_unknown_raises(db):
    with pytest.raises(NotFoundError):
        db.remove("model", "ghost")
    db.apply(ObjectModel("m", object=double))
    with pytest.raises(NotFoundError, match="no version 3"):
        db.remove("model", "m", version=3)


def test_artifacts_are_shared_and_reference_counted(db):
    a = db.apply(ObjectModel("a", object=double))
    b = db.apply(ObjectModel("b", object=double))
    sha = db.record("model", "a").artifacts[0].digest
    assert db.record("model", "b").artifacts[0].digest == sha
    assert db.metadata.artifact_references(sha) == 2
    assert db.artifacts.list() == {sha}
    db.remove("model", "a")
    assert db.artifacts.exists(sha)
    assert db.load("model", "b", uuid=b.uuid).predict(1) == 2
    db.remove("model", "b")
    assert not db.artifacts.exists(sha)
    assert a.uuid != b.uuid


def test_corrupted_artifact_raises_integrity_error(db):
    db.apply(ObjectModel("m", object=double))
    record = db.record("model", "m")
    artifact = record.artifacts[0]
    with db.artifacts.open(artifact.digest) as stream:
        good = stream.read()
    db.artifacts.delete(artifact.digest)
    db.artifacts.put(artifact.digest, [good[:-1] + bytes([good[-1] ^ 0xFF])], len(good))
    with pytest.raises(IntegrityError, match=r"'object' of model 'm' version 0 .*is corrupt"):
        db.load("model", "m").predict(1)


def test_collect_garbage_removes_orphans_only(db):
    db.apply(ObjectModel("m", object=double))
    kept = db.record("model", "m").artifacts[0].digest
    orphan = "0" * 64
    db.artifacts.put(orphan, [b"left by an interrupted apply"], 28)
    assert db.collect_garbage() == {orphan}
    assert db.artifacts.list() == {kept}


def test_failed_apply_leaves_nothing(db):
    class Unpicklable:
        def __call__(self, x):
            return x

        def __reduce__(self):
            raise RuntimeError("cannot pickle me")

    with pytest.raises(Exception, match="cannot pickle me"):
        db.apply(ObjectModel("broken", object=Unpicklable()))
    assert db.show() == {}
    assert db.artifacts.list() == set()


def test_non_json_parameter_is_refused(db):
    with pytest.raises(superlite.errors.SerializationError, match="not a JSON value.*list it in artifact_fields"):
        db.apply(Pipeline("p", threshold=object()))
    assert db.show() == {}


def test_stored_class_that_moved_names_the_class(db):
    db.apply(ObjectModel("m", object=double))
    record = db.record("model", "m")
    db.metadata.delete([record.uuid])
    moved = type(record)(**{**record.__dict__, "class_path": "gone.module:OldModel"})
    db.metadata.insert(moved)
    with pytest.raises(StoredClassImportError, match="cannot import class 'gone.module:OldModel'"):
        db.load("model", "m", lazy=False)


def test_context_manager_closes(db_uri):
    with superlite.connect(db_uri) as db:
        db.apply(ObjectModel("m", object=double))
    with superlite.connect(db_uri) as db:
        assert db.load("model", "m").predict(3) == 6


def _apply_in_process(uri: str, n: int, queue) -> None:
    with superlite.connect(uri) as db:
        model = db.apply(ObjectModel("race", object=lambda x, n=n: x + n))
        queue.put(model.version)


def test_concurrent_apply_from_processes_gets_distinct_versions(db_uri):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_apply_in_process, args=(db_uri, n, queue)) for n in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    versions = sorted(queue.get(timeout=5) for _ in processes)
    assert versions == [0, 1, 2, 3]
    with superlite.connect(db_uri) as db:
        assert db.show("model", "race") == [0, 1, 2, 3]


def test_apply_puts_back_bytes_a_concurrent_remove_freed(db):
    """apply skips uploading bytes that exist; if a remove frees them before the record lands, apply restores them."""
    first = db.apply(ObjectModel("first", object=double))
    sha = db.record("model", "first").artifacts[0].digest
    insert = db.metadata.insert

    def insert_after_a_concurrent_remove(record):
        db.remove("model", "first")
        assert not db.artifacts.exists(sha)
        insert(record)

    db.metadata.insert = insert_after_a_concurrent_remove
    second = db.apply(ObjectModel("second", object=double))
    assert db.record("model", "second").artifacts[0].digest == sha
    assert db.artifacts.exists(sha)
    assert db.load("model", "second", lazy=False).predict(4) == 8
    assert second.uuid != first.uuid


def test_reapply_repairs_a_lost_artifact(db):
    db.apply(ObjectModel("m", object=double))
    sha = db.record("model", "m").artifacts[0].digest
    db.artifacts.delete(sha)
    with pytest.raises(NotFoundError, match="is missing from the artifact store"):
        db.load("model", "m", lazy=False)
    assert db.apply(ObjectModel("m", object=double)).version == 0
    assert db.load("model", "m", lazy=False).predict(1) == 2
