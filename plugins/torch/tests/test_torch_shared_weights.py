"""TorchModels stored with the same state_dict share their parameters' memory in a process."""

from __future__ import annotations

import torch
from superlite_torch import TorchModel
from torch_test_nets import MLP

import superlite


def test_two_models_over_one_state_dict_share_parameters(tmp_path) -> None:
    torch.manual_seed(0)
    net = MLP(8, 32, 2)
    with superlite.connect(f"sqlite:///{tmp_path}/t.db") as db:
        scores = db.apply(TorchModel("scores", object=net))
        labels = db.apply(TorchModel("labels", object=net, batch_size=4, postprocess=lambda y: int(y.argmax())))
        int8 = db.apply(TorchModel("scores", object=net, quantize="dynamic"))
    with superlite.connect(f"sqlite:///{tmp_path}/t.db") as db:
        first, second, third = (db.executor.models.get(m.uuid) for m in (scores, labels, int8))
        first_ptrs, second_ptrs, third_ptrs = ([p.data_ptr() for p in m.object.parameters()] for m in (first, second, third))
        assert first_ptrs == second_ptrs == third_ptrs  # one copy of the weights
        assert db.registry.shared.reads == 1
        x = torch.randn(8)
        assert db.compute(labels.reference, "predict", (x,)) == int(db.compute(scores.reference, "predict", (x,)).argmax())
