"""Deployment files choose where a model runs: ``serving: local`` keeps it in the caller's process."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import remote_models

from superlite import ObjectModel
from superlite.errors import ConfigurationError
from superlite.testing.workers import Stack


def deployment(name: str, **modes: str | None) -> dict:
    models = {}
    for identifier, mode in modes.items():
        models[identifier] = {"aliases": {"production": 0}, **({"serving": mode} if mode else {})}
    return {"name": name, "models": models}


def test_a_local_model_runs_in_the_callers_process(stack: Stack) -> None:
    here, away = f"here-{uuid.uuid4().hex[:6]}", f"away-{uuid.uuid4().hex[:6]}"
    with stack.connect(alias_refresh=0.05) as db:
        for name in (here, away):
            db.apply(ObjectModel(name, object=remote_models.getpid))
        db.deploy(deployment(f"d-{here}", **{here: "local", away: None}))
        assert db.load("model", here).predict(0) == os.getpid()
        assert db.load("model", f"{here}@production").predict(0) == os.getpid()
        assert db.load("model", away).predict(0) != os.getpid()
        assert db.load("model", here).predict_batches([0, 1]) == [os.getpid()] * 2

        db.deploy(deployment(f"d-{here}", **{here: "remote", away: None}))
        deadline = time.monotonic() + 30
        while db.load("model", here).predict(0) == os.getpid():  # seen through the change feed
            assert time.monotonic() < deadline, "the new serving mode was never seen"
            time.sleep(0.02)


def test_two_deployments_may_not_disagree(stack: Stack) -> None:
    name = f"m-{uuid.uuid4().hex[:6]}"
    with stack.connect() as db:
        db.apply(ObjectModel(name, object=remote_models.getpid))
        db.deploy(deployment("first-" + name, **{name: "local"}))
        with pytest.raises(ConfigurationError, match=f"contradicts deployment 'first-{name}'"):
            db.deploy(deployment("second-" + name, **{name: "remote"}), check=True)
        db.deploy(deployment("second-" + name, **{name: "local"}))


def test_a_serving_mode_is_one_of_two(stack: Stack) -> None:
    with stack.connect() as db, pytest.raises(ConfigurationError, match="serving"):
        db.deploy({"models": {"m": {"serving": "elsewhere"}}}, check=True)
