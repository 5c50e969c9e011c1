"""TorchModel without a database: predictions, batching, kinds of inputs, devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from superlite_torch import TorchModel
from torch import nn
from torch_test_nets import MLP, TwoInputs

from superlite.errors import ConfigurationError


@pytest.fixture
def mlp() -> MLP:
    torch.manual_seed(0)
    return MLP(4, 8, 3, dropout=0.5)


def test_predict_runs_in_eval_and_inference_mode(mlp):
    model = TorchModel("mlp", object=mlp)
    mlp.train()
    x = torch.randn(4)
    first = model.predict(x)
    assert torch.equal(first, model.predict(x))  # dropout is off
    assert first.shape == (3,) and first.is_inference()
    assert mlp.training  # the caller's mode is restored
    assert torch.equal(first, mlp.eval()(x.unsqueeze(0))[0].detach())


def test_results_come_back_in_the_kind_of_their_input(mlp):
    model = TorchModel("mlp", object=mlp)
    x = torch.randn(4)
    expected = model.predict(x)
    from_numpy = model.predict(x.double().numpy())  # float64 is cast to the module's float32
    assert isinstance(from_numpy, np.ndarray) and from_numpy.dtype == np.float32
    np.testing.assert_array_equal(from_numpy, expected.numpy())
    from_list = model.predict(x.tolist())
    assert isinstance(from_list, list) and from_list == pytest.approx(expected.tolist())


def test_whole_numbers_from_json_are_cast_to_the_parameter_dtype(mlp):
    model = TorchModel("mlp", object=mlp)
    from_json = model.predict([1, 2, 3, 4])
    assert from_json == pytest.approx(model.predict([1.0, 2.0, 3.0, 4.0]))
    assert model.predict_batches([[1, 2, 3, 4], [0, 0, 0, 1]])[0] == pytest.approx(from_json)


def test_whole_numbers_stay_indices_for_embeddings():
    torch.manual_seed(0)
    model = TorchModel("emb", object=nn.Sequential(nn.Embedding(10, 2), nn.Flatten()))
    assert len(model.predict([1, 2, 3])) == 6


def test_tuple_inputs_are_positional_arguments_and_tuple_outputs_split_per_example():
    model = TorchModel("two", object=TwoInputs(), batch_size=2)
    a, b = torch.ones(3), torch.full((3,), 2.0)
    total, difference = model.predict((a, b))
    assert total.tolist() == [3.0, 4.0, 5.0] and difference.tolist() == [-1.0, -1.0, -1.0]
    outputs = model.predict_batches([(a, b), (b, a), (a, a)])
    assert [o[1].tolist() for o in outputs] == [[-1.0] * 3, [1.0] * 3, [0.0] * 3]


def test_batching_preserves_order(mlp):
    model = TorchModel("mlp", object=mlp, batch_size=4)
    xs = [torch.randn(4) for _ in range(11)]  # batches of 4, 4 and 3
    batched = model.predict_batches(xs)
    assert len(batched) == 11
    for x, y in zip(xs, batched):
        torch.testing.assert_close(y, model.predict(x))


def test_batches_are_moved_to_the_device_batch_size_at_a_time(mlp):
    seen: list[int] = []
    mlp.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[0]))
    TorchModel("mlp", object=mlp, batch_size=4).predict_batches([np.zeros(4, dtype=np.float32)] * 10)
    assert seen == [4, 4, 2]


def test_preprocess_and_postprocess(mlp):
    model = TorchModel(
        "mlp",
        object=mlp,
        preprocess=lambda text: [float(len(word)) for word in text.split()],
        postprocess=lambda logits: int(logits.argmax()),
    )
    label = model.predict("a bb ccc dddd")
    assert label in (0, 1, 2)
    assert model.predict_batches(["a bb ccc dddd", "a b c d"])[0] == label


def test_inputs_of_different_shapes_give_a_clear_error(mlp):
    with pytest.raises(ValueError, match=r"same shape to be stacked, got \[\(4,\), \(5,\)\]; pad them in a preprocess"):
        TorchModel("mlp", object=mlp).predict_batches([torch.zeros(4), torch.zeros(5)])


def test_device_auto_falls_back_to_cpu_here(mlp):
    model = TorchModel("mlp", object=mlp, device="auto")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert model.torch_device.type == expected
    assert next(mlp.parameters()).device.type == expected
    assert model.predict(torch.randn(4)).device.type == "cpu"  # results always come back on the CPU


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error(mlp):
    with pytest.raises(ConfigurationError, match="does not have; use device='auto'"):
        TorchModel("mlp", object=mlp, device="cuda")
    with pytest.raises(ConfigurationError, match="not a torch device"):
        TorchModel("mlp", object=mlp, device="gpu please")


def test_bad_arguments_are_refused(mlp):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        TorchModel("mlp", object=mlp, batch_size=0)
    with pytest.raises(TypeError, match="needs a torch.nn.Module"):
        TorchModel("mlp", object=lambda x: x)


def test_progress_bar_when_asked_and_not_otherwise(mlp, capsys):
    model = TorchModel("mlp", object=mlp, batch_size=2)
    model.predict_batches([torch.zeros(4)] * 6, progress=True)
    assert "6/6" in capsys.readouterr().err
    model.predict_batches([torch.zeros(4)] * 6)  # short run: no bar
    model.predict_batches([torch.zeros(4)] * 6, progress=False)
    assert capsys.readouterr().err == ""


def test_serve_true_gives_a_proxy_that_predicts_locally(mlp):
    from superlite import RemoteModel

    proxy = TorchModel("mlp", object=mlp, serve=True)
    assert isinstance(proxy, RemoteModel)
    x = torch.randn(4)
    assert torch.equal(proxy.predict(x), proxy.original_model.predict(x))


def test_a_module_class_from_a_function_is_marked_for_dill():
    class Local(nn.Module):
        def forward(self, x):
            return x

    model = TorchModel("local", object=Local())
    assert model.module_code is Local and model.module_class.endswith("<locals>.Local")
    assert TorchModel("lin", object=nn.Linear(2, 2)).module_code is None
