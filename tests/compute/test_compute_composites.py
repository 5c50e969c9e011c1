"""Composite models on real Celery workers (Redis): combined on the worker, or on the caller."""

from __future__ import annotations

import os
import uuid

import composite_models as cm
import pytest

from superlite import Ensemble, ObjectModel, Pipeline, RemoteModel, Router
from superlite.errors import CompositeError, RemoteError


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def workers(redis_broker, tmp_path_factory):
    from superlite.testing.workers import running_stack

    with running_stack("sqlite", redis_broker, tmp_path_factory.mktemp("composites"), "--concurrency", "1", count=2) as stack:
        yield stack


def test_pipeline_router_ensemble_answer_on_a_worker(workers):
    inc, double = ObjectModel(unique("inc"), object=cm.inc), ObjectModel(unique("double"), object=cm.double)
    with workers.connect() as db:
        pipe = db.apply(Pipeline(unique("pipe"), steps=[inc, double], serve=True))
        assert isinstance(pipe, RemoteModel)
        assert pipe.predict(3) == 8
        assert pipe.predict_batches([1, 2, 3], chunk_size=3) == [4, 6, 8]
        route = db.apply(Router(unique("route"), routes={"i": inc}, select=lambda x: "i" if x < 10 else "d", default=double))
        assert db.load("model", route.identifier).predict_batches([1, 20]) == [2, 40]
        ens = db.apply(Ensemble(unique("ens"), models=[inc, double, ObjectModel(unique("pid"), object=cm.pid)], combine=list))
        answers = db.load("model", ens.identifier).predict(2)
    assert answers[:2] == [3, 4]
    assert answers[2] != os.getpid(), "the members ran on a worker"


def test_ensemble_combined_on_the_caller_fans_members_out_to_workers(workers):
    members = [ObjectModel(unique(f"pid{i}"), object=cm.pid) for i in range(3)]
    with workers.connect() as db:
        ens = db.apply(Ensemble(unique("fan"), models=members, combine=list))
        on_caller = db.load("model", ens.identifier, lazy=False)
        assert isinstance(on_caller, Ensemble) and all(isinstance(m, RemoteModel) and m.db is db for m in on_caller.models)
        pids = on_caller.predict(0)
    worker_pids = {p for w in workers.workers for p in w.pids()}
    assert set(pids) <= worker_pids and os.getpid() not in pids


def test_a_failing_member_is_named_across_the_wire_and_can_be_skipped(workers):
    ok, broken = ObjectModel(unique("ok"), object=cm.inc), ObjectModel(unique("broken"), object=cm.fail)
    with workers.connect() as db:
        strict = db.apply(Ensemble(unique("strict"), models=[ok, broken], serve=True))
        with pytest.raises(CompositeError) as caught:
            strict.predict(1)
        assert caught.value.member == broken.identifier and "cannot score 1" in str(caught.value)
        assert isinstance(caught.value.__cause__, RemoteError)

        on_caller = db.load("model", strict.identifier, lazy=False)
        with pytest.raises(CompositeError) as named:
            on_caller.predict(1)
        assert named.value.member == broken.identifier

        lenient = db.apply(Ensemble(unique("lenient"), models=[ok, broken], on_error="skip", serve=True))
        assert lenient.predict(1) == 2


def test_alias_child_follows_promotions_on_workers(workers):
    name = unique("scorer")
    with workers.connect() as db:
        db.apply(ObjectModel(name, object=cm.inc))
        db.apply(ObjectModel(name, object=cm.double))
        db.set_alias("model", name, "production", 0)
        pipe = db.apply(Pipeline(unique("follow"), steps=[f"{name}@production"], serve=True))
        assert pipe.predict(10) == 11
        db.set_alias("model", name, "production", 1)
        assert pipe.predict(10) == 20
