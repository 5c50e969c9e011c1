"""The compute pipeline in-process: tasks with options, wrappers around the backend, nested calls."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

import superlite
from superlite import ObjectModel
from superlite.components.model import Model
from superlite.components.reference import Selector
from superlite.compute.base import ComputeWrapper, ResultHandle, Task, TaskOptions
from superlite.compute.local import DEFAULT_THREADS
from superlite.errors import ComputeError, ConfigurationError, NotFoundError


def triple(x):
    return 3 * x


def slow_identity(x):
    time.sleep(0.05)
    return x


@dataclass
class Chain(Model):
    """A model whose predict calls another stored model (a child held as a proxy once loaded)."""

    first: Model | None = None

    def predict(self, x):
        return self.first.predict(x) + 1


class Recording(ComputeWrapper):
    """Sees every task that goes to the backend."""

    seen: list[Task] = []

    def submit_many(self, tasks: Sequence[Task]) -> list[ResultHandle]:
        Recording.seen.extend(tasks)
        return super().submit_many(tasks)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[superlite.Datalayer]:
    Recording.seen = []
    with superlite.connect(f"sqlite:///{tmp_path}/db.sqlite", broker=None, wrappers=[Recording]) as datalayer:
        yield datalayer


def test_every_path_goes_through_the_wrappers(db: superlite.Datalayer) -> None:
    model = db.apply(ObjectModel("triple", object=triple, serve=True))
    assert model.predict(2) == 6
    assert model.predict_batches([1, 2, 3], chunk_size=2) == [3, 6, 9]
    assert asyncio.run(db.acompute(model.selector, "predict", (5,))) == 15
    assert [task.args for task in Recording.seen] == [(2,), ([1, 2],), ([3],), (5,)]
    assert {task.target.uuid for task in Recording.seen} == {model.uuid}


class OnlyTriple(Recording):
    """Acts on tasks of ``triple`` alone; single tasks of other models pass it by."""

    def acts_on(self, task: Task) -> bool:
        return task.target.identifier == "triple"


def test_a_single_task_passes_by_a_wrapper_that_does_not_act_on_it(tmp_path: Path) -> None:
    Recording.seen = []
    with superlite.connect(f"sqlite:///{tmp_path}/db.sqlite", broker=None, wrappers=[OnlyTriple]) as db:
        triples = db.apply(ObjectModel("triple", object=triple, serve=True))
        same = db.apply(ObjectModel("same", object=slow_identity, serve=True))
        assert (triples.predict(2), same.predict(2)) == (6, 2)
        assert [task.target.identifier for task in Recording.seen] == ["triple"]
        [handle] = db.compute_backend.submit_many([Task(db.resolve(same.reference), "predict", (3,))])
        assert handle.result() == 3
        assert [task.target.identifier for task in Recording.seen] == ["triple", "same"]  # many tasks: it decides in submit_many


def test_a_task_carries_its_options(db: superlite.Datalayer) -> None:
    model = db.apply(ObjectModel("triple", object=triple, serve=True))
    model.predict(1, key="user-7", priority="high", timeout=30)
    options = Recording.seen[-1].options
    assert (options.routing_key, options.priority) == ("user-7", "high")
    assert options.deadline is not None and 0 < options.remaining() <= 30
    assert options.request_id


def test_bad_priority_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"priority must be one of None, 'high', 'normal', 'low', not 'urgent'"):
        TaskOptions(priority="urgent")


def test_a_task_past_its_deadline_is_not_run(db: superlite.Datalayer) -> None:
    model = db.apply(ObjectModel("triple", object=triple))
    task = Task(db.resolve(model.reference), "predict", (1,), options=TaskOptions(deadline=time.time() - 1))
    with pytest.raises(ComputeError, match="after its deadline; it was not run"):
        db.executor.execute(task)


def test_private_and_unservable_methods_are_refused_in_process_too(db: superlite.Datalayer) -> None:
    model = db.apply(ObjectModel("triple", object=triple))
    with pytest.raises(ConfigurationError, match="refusing to call private method '__reduce__'"):
        db.compute(model.reference, "__reduce__")
    with pytest.raises(ComputeError, match=r"'encode' is not a servable method of model 'triple'; servable: predict, predict_batches"):
        db.compute(model.reference, "encode")
    assert Recording.seen == [Recording.seen[0]]


def test_the_handle_says_which_version_answered(db: superlite.Datalayer) -> None:
    db.apply(ObjectModel("m", object=triple))
    newest = db.apply(ObjectModel("m", object=slow_identity))
    handle = db.compute(Selector("model", "m", alias="latest"), "predict", (4,), wait=False)
    assert handle.result(10) == 4
    assert (handle.answered_by.uuid, handle.answered_by.version) == (newest.uuid, 1)


def test_nested_calls_never_wait_for_their_own_pool(db: superlite.Datalayer) -> None:
    """More concurrent parents than pool threads, each calling a child: all finish."""
    db.apply(Chain("chain", first=ObjectModel("inner", object=triple)))
    chain = db.load("model", "chain")
    handles = [db.compute(chain.reference, "predict", (i,), wait=False) for i in range(2 * DEFAULT_THREADS)]
    assert [handle.result(20) for handle in handles] == [3 * i + 1 for i in range(2 * DEFAULT_THREADS)]
    assert len(Recording.seen) == 4 * DEFAULT_THREADS  # parents and children alike went through the stack


def test_a_proxy_following_an_alias_resolves_at_each_call(db: superlite.Datalayer) -> None:
    db.apply(ObjectModel("m", object=triple))
    follower = db.load("model", "m@latest")
    assert follower.follows_alias and follower.predict(2) == 6
    db.apply(ObjectModel("m", object=slow_identity))
    assert follower.predict(2) == 2 and follower.version == 1


def test_unknown_alias_is_not_found(db: superlite.Datalayer) -> None:
    db.apply(ObjectModel("m", object=triple))
    with pytest.raises(NotFoundError, match="has no alias 'prod'"):
        db.load("model", "m@prod")


def test_conflicting_selectors_are_refused(db: superlite.Datalayer) -> None:
    with pytest.raises(ConfigurationError, match="give one of version, uuid or alias"):
        db.load("model", "m@3", version=2)


def test_pinned_selectors_resolve_without_a_query(db: superlite.Datalayer, monkeypatch: pytest.MonkeyPatch) -> None:
    model = db.apply(ObjectModel("m", object=triple))

    def no_query(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pinned selector must not query the store")

    monkeypatch.setattr(db.registry, "record", no_query)
    resolved = db.resolve(model.reference)
    assert (resolved.uuid, resolved.identifier) == (model.uuid, "m")


def test_components_hold_no_datalayer(db: superlite.Datalayer) -> None:
    model = db.apply(ObjectModel("m", object=triple))
    assert not hasattr(model, "db")
    loaded = db.load("model", "m", lazy=False)
    assert not hasattr(loaded, "db")


def test_concurrent_nested_calls_from_threads(db: superlite.Datalayer) -> None:
    db.apply(Chain("chain", first=ObjectModel("inner", object=triple)))
    chain = db.load("model", "chain")
    results: list[int] = []
    threads = [threading.Thread(target=lambda i=i: results.append(chain.predict(i))) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [3 * i + 1 for i in range(8)]
