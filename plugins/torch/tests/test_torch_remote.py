"""TorchModel served by real ``superlite worker`` processes: tensors cross the broker without pickle.

Uses the worker stacks the core tests use (``superlite.testing.workers``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from superlite_torch import TorchModel
from torch import nn

from superlite import RemoteModel
from superlite.testing.services import require_service
from superlite.testing.workers import Stack, running_stack

LINEAR_ARGS = {"in_features": 4, "out_features": 3}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One single-process worker on Redis, over a SQLite file or a PostgreSQL schema."""
    broker = require_service("redis")
    with running_stack(request.param, broker, tmp_path_factory.mktemp(request.param), "--concurrency", "1") as s:
        yield s


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def linear() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(**LINEAR_ARGS)


def test_remote_prediction_equals_local(stack: Stack) -> None:
    module = linear()
    local = TorchModel("local", object=module, module_args=LINEAR_ARGS)
    model = TorchModel(unique("linear"), object=module, module_args=LINEAR_ARGS, serve=True)
    assert isinstance(model, RemoteModel)
    x = torch.randn(4)
    assert torch.equal(model.predict(x), local.predict(x))  # not applied yet: runs here

    with stack.connect() as db:
        db.apply(model)
        remote = model.predict(x)  # applied: runs on the worker
        assert isinstance(remote, torch.Tensor) and remote.dtype == torch.float32
        assert torch.equal(remote, local.predict(x))

        loaded = db.load("model", model.identifier)
        array = loaded.predict(x.numpy())
        assert isinstance(array, np.ndarray)
        np.testing.assert_array_equal(array, local.predict(x).numpy())
        assert loaded.predict(x.tolist()) == local.predict(x.tolist())


def test_prediction_runs_on_a_worker_process(stack: Stack) -> None:
    model = TorchModel(
        unique("pid"), object=linear(), module_args=LINEAR_ARGS, postprocess=lambda y: [y, os.getpid()], serve=True
    )
    with stack.connect() as db:
        db.apply(model)
        output, pid = model.predict(torch.ones(4))
    assert pid != os.getpid()
    assert stack.worker_of(pid)
    assert torch.equal(output, TorchModel("local", object=linear(), module_args=LINEAR_ARGS).predict(torch.ones(4)))


def test_remote_batches_come_back_in_order(stack: Stack) -> None:
    module = linear()
    local = TorchModel("local", object=module, module_args=LINEAR_ARGS, batch_size=3)
    xs = [torch.randn(4) for _ in range(10)]
    with stack.connect() as db:
        name = unique("batches")
        db.apply(TorchModel(name, object=module, module_args=LINEAR_ARGS, batch_size=3))
        # chunks of batch_size: the worker forms the same batches as the local run, so equal bits
        remote = db.load("model", name).predict_batches(xs, chunk_size=3)
    assert len(remote) == 10
    for got, expected in zip(remote, local.predict_batches(xs)):
        assert torch.equal(got, expected)


def test_tensors_of_other_dtypes_and_shapes_cross_the_broker(stack: Stack) -> None:
    class Identity(nn.Module):
        def forward(self, x):
            return x

    with stack.connect() as db:
        name = unique("identity")
        with pytest.warns(UserWarning, match="no import path"):
            db.apply(TorchModel(name, object=Identity(), module_args={}))
        proxy = db.load("model", name)
        for value in (torch.arange(6).reshape(2, 3), torch.ones(2, 2, dtype=torch.bfloat16), torch.tensor([True, False])):
            back = proxy.predict(value)
            assert back.dtype == value.dtype and torch.equal(back, value)
