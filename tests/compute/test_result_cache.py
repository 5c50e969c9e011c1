"""The result cache: ``cache=True`` models are computed once per input and version; hits never reach the compute."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import superlite
from superlite import Model, ObjectModel
from superlite.errors import ArgumentTypeError, ComponentError, NotFoundError
from superlite.testing.workers import Stack


class CallLog:
    """Appends each input to a file, then answers ``x + 1``: the file counts the calls wherever they ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, x: int) -> int:
        with open(self.path, "a") as log:
            log.write(f"{x}\n")
        return x + 1


def calls(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_in_process_answers_are_reused_per_input_and_version(tmp_path: Path) -> None:
    log = tmp_path / "calls.txt"
    with superlite.connect(f"sqlite:///{tmp_path / 'c.db'}", broker=None) as db:
        model = db.apply(ObjectModel("m", object=CallLog(str(log)), cache=True, serve=True))
        assert [model.predict(1), model.predict(1), model.predict(2), model.predict(1)] == [2, 2, 3, 2]
        assert calls(log) == ["1", "2"]
        assert (db.result_cache.hits, db.result_cache.misses) == (2, 2)
        newer = db.apply(ObjectModel("m", object=CallLog(str(log)), cache=60, serve=True))
        assert newer.version == 1 and newer.predict(1) == 2
        assert calls(log) == ["1", "2", "1"]  # another version: computed again
        assert model.predict_batches([1, 1]) == [2, 2] and calls(log)[-2:] == ["1", "1"]  # batches are not cached


def test_models_without_cache_are_computed_each_time(tmp_path: Path) -> None:
    log = tmp_path / "calls.txt"
    with superlite.connect(f"sqlite:///{tmp_path / 'c.db'}", broker=None) as db:
        model = db.apply(ObjectModel("m", object=CallLog(str(log)), serve=True))
        model.predict(1), model.predict(1)
        assert calls(log) == ["1", "1"]
        assert "cache" not in db.record("model", "m").params  # nor in its content hash


class Sampler(Model):
    """A model whose answers vary for equal inputs."""

    deterministic = False

    def predict(self, x: object) -> object:
        return uuid.uuid4().hex


def test_bad_cache_settings_are_refused(tmp_path: Path) -> None:
    with superlite.connect(f"sqlite:///{tmp_path / 'c.db'}", broker=None) as db:
        with pytest.raises(ComponentError, match="not deterministic"):
            db.apply(Sampler("s", cache=True))
        with pytest.raises(ArgumentTypeError, match="cache is True or a number"):
            db.apply(ObjectModel("m", object=abs, cache=-1))
        db.apply(Sampler("s"))


def test_a_hit_never_reaches_the_worker(stack: Stack, tmp_path: Path) -> None:
    log = tmp_path / "worker-calls.txt"
    name = f"cached-{uuid.uuid4().hex[:8]}"
    with stack.connect() as db:
        model = db.apply(ObjectModel(name, object=CallLog(str(log)), cache=True, serve=True))
        assert model.predict(5) == 6
        with stack.connect() as other:  # another caller of the same Redis: shares the answers
            assert other.load("model", name).predict(5) == 6
            assert other.result_cache.hits == 1
    assert calls(log) == ["5"]


def test_a_removed_version_is_not_answered_from_the_cache(tmp_path: Path) -> None:
    log = tmp_path / "calls.txt"
    uri = f"sqlite:///{tmp_path / 'c.db'}"
    with superlite.connect(uri, broker=None, alias_refresh=3600.0) as db:
        model = db.apply(ObjectModel("m", object=CallLog(str(log)), cache=True, serve=True))
        assert model.predict(1) == 2
        db.remove("model", "m")
        db.resolver.watch().poll()  # the removal, as the feed reports it to every caller
        with pytest.raises(NotFoundError):
            model.predict(1)
