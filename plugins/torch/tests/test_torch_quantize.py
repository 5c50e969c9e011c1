"""TorchModel(quantize="dynamic"): an int8 copy of the module serves, derived from the stored float weights."""

from __future__ import annotations

import pytest
import torch
from superlite_torch import TorchModel
from torch_test_nets import MLP

import superlite
from superlite.errors import ComponentError


@pytest.fixture
def net() -> MLP:
    torch.manual_seed(0)
    return MLP(16, 64, 4)


def batch(n: int = 8) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return [torch.randn(16, generator=generator) for _ in range(n)]


def test_a_quantized_model_answers_close_to_the_float_one(net) -> None:
    plain, quantized = TorchModel("f", object=net), TorchModel("q", object=net, quantize="dynamic")
    linears = [type(m).__module__ for m in quantized.serving_module.modules() if type(m).__name__ == "Linear"]
    assert linears and all("quantized.dynamic" in module for module in linears)
    expected = torch.stack(plain.predict_batches(batch()))
    answers = torch.stack(quantized.predict_batches(batch()))
    assert not torch.equal(answers, expected)  # int8 weights: not the same numbers...
    torch.testing.assert_close(answers, expected, atol=0.05, rtol=0.05)  # ...but close
    assert plain.serving_module is net  # without quantize, the module itself serves


def test_quantize_makes_a_version_of_its_own_and_loads_quantized(tmp_path, net) -> None:
    with superlite.connect(f"sqlite:///{tmp_path}/q.db") as db:
        float_version = db.apply(TorchModel("m", object=net))
        int8_version = db.apply(TorchModel("m", object=net, quantize="dynamic"))
        assert (float_version.version, int8_version.version) == (0, 1)
        assert db.apply(TorchModel("m", object=net, quantize="dynamic")).version == 1  # same content, same version
        assert "quantize" not in db.record("model", "m", version=0).params  # float models hash as before
        loaded = db.load("model", "m", version=1, lazy=False)
        in_memory = TorchModel("x", object=net, quantize="dynamic")
        assert loaded.quantize == "dynamic"
        torch.testing.assert_close(torch.stack(loaded.predict_batches(batch())), torch.stack(in_memory.predict_batches(batch())))


def test_an_unknown_quantize_mode_is_refused(net) -> None:
    with pytest.raises(ComponentError, match="quantize must be one of"):
        TorchModel("bad", object=net, quantize="static")
