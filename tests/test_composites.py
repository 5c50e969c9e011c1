"""Composite models (Pipeline, Router, Ensemble) detached and with in-process compute."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from superlite import Ensemble, Model, ObjectModel, Pipeline, RemoteModel, Router
from superlite.errors import ComponentError, CompositeError, DependencyError

#: Ensemble members that all wait here run at the same time, or the barrier breaks.
BARRIER = threading.Barrier(1)


def inc(x):
    return x + 1


def double(x):
    return 2 * x


def seven(x):
    return 7


def fail(x):
    raise ValueError(f"cannot score {x!r}")


def meet(x):
    BARRIER.wait(timeout=20)
    return x


@dataclass
class Batched(Model):
    """Adds ``step`` to each input and records every batch size it was called with."""

    calls: ClassVar[list[tuple[str, int]]] = []

    step: int = 1

    def predict(self, x: Any) -> Any:
        Batched.calls.append((self.identifier, 1))
        return x + self.step

    def predict_batches(self, xs: Sequence[Any]) -> list[Any]:
        Batched.calls.append((self.identifier, len(xs)))
        return [x + self.step for x in xs]


def test_detached_pipeline_router_ensemble():
    m_inc, m_double, m_seven = ObjectModel("inc", object=inc), ObjectModel("double", object=double), ObjectModel("seven", object=seven)
    pipe = Pipeline("p", steps=[m_inc, m_double])
    assert pipe.predict(3) == 8 and pipe.predict_batches([1, 2]) == [4, 6]

    route = Router("r", routes={"small": m_inc, "big": m_double}, select=lambda x: "small" if x < 10 else "big", default=m_seven)
    assert route.predict(1) == 2 and route.predict(20) == 40
    assert route.predict_batches([1, 20, 3]) == [2, 40, 4]

    ens = Ensemble("e", models=[m_inc, m_double, m_seven], combine="vote")
    assert ens.predict(1) == 2  # inc and double both say 2
    assert Ensemble("m", models=[m_inc, m_double, m_seven]).predict(1) == pytest.approx((2 + 2 + 7) / 3)
    assert Ensemble("w", models=[m_inc, m_seven], weights=[3, 1]).predict(1) == pytest.approx((3 * 2 + 7) / 4)
    assert Ensemble("wv", models=[m_inc, m_seven], combine="vote", weights=[1, 2]).predict(1) == 7
    assert Ensemble("c", models=[m_inc, m_double, m_seven], combine=max).predict_batches([1, 10]) == [7, 20]
    served = Pipeline("served", steps=[m_inc, m_double], serve=True)
    assert isinstance(served, RemoteModel) and served.predict(3) == 8 and served.predict_batches([0]) == [2]


def test_router_falls_back_to_default_for_unknown_keys():
    route = Router("r", routes={"en": ObjectModel("en", object=inc)}, select=lambda x: x["lang"], default=ObjectModel("any", object=seven))
    assert route.predict({"lang": "fr"}) == 7


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda: Pipeline("p", steps=[]), "at least one model"),
        (lambda: Ensemble("e", models=[ObjectModel("a", object=inc)], combine="median"), "unknown combine 'median'"),
        (lambda: Ensemble("e", models=[ObjectModel("a", object=inc)], weights=[1, 2]), "2 weights for 1 models"),
        (lambda: Router("r", routes={"a": ObjectModel("a", object=inc)}, select=lambda x: "a"), "needs default="),
        (lambda: Router("r", routes={"a": ObjectModel("a", object=inc)}, select="lang", default=ObjectModel("a", object=inc)), "select must be a function"),
        (lambda: Pipeline("p", steps=[inc]), "steps[0] is a function"),
        (lambda: Ensemble("e", models=[ObjectModel("a", object=inc)], on_error="ignore"), "on_error='ignore'"),
    ],
)
def test_construction_is_validated(build, words):
    with pytest.raises(ComponentError) as caught:
        build()
    assert words in str(caught.value)


def test_apply_stores_children_first_as_pinned_references(db):
    m_inc = ObjectModel("inc", object=inc)
    pipe = db.apply(Pipeline("p", steps=[m_inc, ObjectModel("double", object=double)]))
    assert m_inc.uuid is not None and pipe.version == 0
    assert db.record("model", "p").params["steps"][0] == m_inc.reference
    assert db.load("model", "p").predict(3) == 8

    db.apply(ObjectModel("inc", object=seven))  # a new version of a child
    assert db.show("model", "inc") == [0, 1]
    assert db.load("model", "p").predict(3) == 8, "the stored pipeline keeps the version it was applied with"
    assert db.apply(Pipeline("p", steps=[m_inc, ObjectModel("double", object=double)])).version == 0

    with pytest.raises(DependencyError):
        db.remove("model", "inc", 0)


def test_alias_child_follows_promotions(db):
    db.apply(ObjectModel("scorer", object=inc))
    db.apply(ObjectModel("scorer", object=double))
    db.set_alias("model", "scorer", "production", 0)
    pipe = db.apply(Pipeline("follow", steps=["scorer@production"]))
    assert db.load("model", "follow").predict(10) == 11
    db.set_alias("model", "scorer", "production", 1)
    assert db.load("model", "follow").predict(10) == 20
    assert pipe.version == 0 and db.show("model", "follow") == [0]


def test_alias_child_must_exist_and_needs_a_datalayer(db):
    with pytest.raises(ComponentError, match="missing@production"):
        db.apply(Pipeline("p", steps=["missing@production"]))
    with pytest.raises(CompositeError, match="needs a Datalayer"):
        Pipeline("p", steps=["scorer@production"]).predict(1)


def test_batched_all_the_way_down(db):
    Batched.calls.clear()
    pipe = db.apply(Pipeline("batched", steps=[Batched("b1"), Router("r", routes={"x": Batched("b2", step=10)}, select=lambda x: "x", default=Batched("b3"))]))
    assert db.load("model", "batched").predict_batches(list(range(8)), chunk_size=8) == [x + 11 for x in range(8)]
    assert Batched.calls == [("b1", 8), ("b2", 8)]
    assert pipe.uuid is not None


def test_ensemble_names_a_failing_member_and_can_skip_it(db):
    members = [ObjectModel("ok", object=inc), ObjectModel("broken", object=fail), ObjectModel("seven", object=seven)]
    db.apply(Ensemble("strict", models=members))
    with pytest.raises(CompositeError) as caught:
        db.load("model", "strict").predict(1)
    assert caught.value.member == "broken" and "cannot score 1" in str(caught.value)
    assert isinstance(caught.value.__cause__, ValueError)

    db.apply(Ensemble("lenient", models=members, combine="vote", on_error="skip"))
    assert db.load("model", "lenient").predict(6) == 7  # ok says 7, seven says 7

    db.apply(Ensemble("hopeless", models=[members[1]], on_error="skip"))
    with pytest.raises(CompositeError) as caught:
        db.load("model", "hopeless").predict(1)
    assert caught.value.failures.keys() == {"broken"}


def test_eight_concurrent_ensembles_run_every_member_at_once_without_deadlock(db):
    """Every pool thread runs an ensemble, and the 3 members of each meet at one barrier: only
    possible if members run in parallel, and if nested calls do not queue behind their parents
    on the full pool (they run inline on the members' threads). 8 calls fill the pool twice."""
    global BARRIER
    threads = db.compute_backend.parallelism
    assert 8 % threads == 0
    BARRIER = threading.Barrier(3 * threads)
    db.apply(Ensemble("meet", models=[ObjectModel(f"meet{i}", object=meet) for i in range(3)]))
    model = db.load("model", "meet")
    handles = [db.compute(model.selector, "predict", (i,), wait=False) for i in range(8)]
    assert [h.result(timeout=60) for h in handles] == [float(i) for i in range(8)]
    assert not BARRIER.broken


def what_the_child_sees(x: Any) -> dict[str, Any]:
    """The options of the task this child runs in (inherited from its composite's call)."""
    from superlite.compute.executor import running_options

    options = running_options()
    assert options is not None
    return {"key": options.routing_key, "priority": options.priority, "deadline": options.deadline, "request_id": options.request_id}


def test_children_inherit_the_composite_call_s_key_priority_deadline_and_request_id(db) -> None:
    pipe = db.apply(Pipeline("inherits", steps=[ObjectModel("sees", object=what_the_child_sees)]))
    handle = db.compute(pipe.reference, "predict", (1,), key="user-7", priority="high", timeout=30, wait=False)
    seen = handle.result(30)
    assert (seen["key"], seen["priority"]) == ("user-7", "high")
    assert seen["deadline"] == handle.task.options.deadline and seen["request_id"] == handle.task.options.request_id


def test_an_alias_child_stays_sticky_to_the_composite_call_s_key(db) -> None:
    db.apply(ObjectModel("versioned", object=seven))
    db.apply(ObjectModel("versioned", object=double))
    db.set_alias("model", "versioned", "prod", version=0)
    db.start_canary("model", "versioned", "prod", version=1, percent=50)
    pipe = db.apply(Pipeline("sticky", steps=["versioned@prod"]))
    answers = {key: {db.compute(pipe.reference, "predict", (5,), key=key) for _ in range(5)} for key in map(str, range(20))}
    assert all(len(seen) == 1 for seen in answers.values())  # each key: always the same child version
    assert {next(iter(seen)) for seen in answers.values()} == {7, 10}  # and both versions serve some keys
