"""Describing a module (class path + JSON arguments) and rebuilding it from a state_dict."""

from __future__ import annotations

import pytest
import torch
from superlite_torch.rebuild import (
    capture_args,
    check_rebuild,
    class_path,
    import_module_class,
    is_importable,
    rebuild,
)
from torch import nn
from torch_test_nets import MLP, Opaque, Tied

from superlite.errors import SerializationError, StoredClassImportError


def test_class_path_and_importability():
    assert class_path(MLP) == "torch_test_nets:MLP"
    assert is_importable(MLP) and is_importable(nn.Linear)

    class Local(nn.Module):
        pass

    assert not is_importable(Local)


def test_import_errors_name_the_class_path():
    with pytest.raises(StoredClassImportError, match="'no_such_module_xyz:Net'") as info:
        import_module_class("no_such_module_xyz:Net")
    assert info.value.class_path == "no_such_module_xyz:Net"
    with pytest.raises(StoredClassImportError, match="'torch_test_nets:Renamed'"):
        import_module_class("torch_test_nets:Renamed")
    with pytest.raises(SerializationError, match="not a torch.nn.Module"):
        import_module_class("torch_test_nets:Vocabulary")


def test_capture_args_reads_same_named_attributes():
    assert capture_args(MLP(3, 5, 2, dropout=0.25)) == {"n_in": 3, "n_hidden": 5, "n_out": 2, "dropout": 0.25}


def test_capture_args_refuses_to_guess():
    with pytest.raises(SerializationError, match=r"width are not kept.*module_args=\{\.\.\.\}"):
        capture_args(Opaque(4))
    with pytest.raises(SerializationError, match=r"argument\(s\) bias, device, dtype are not kept"):
        capture_args(nn.Linear(2, 3))


def test_check_rebuild_catches_wrong_arguments():
    state_dict = MLP(3, 5, 2).state_dict()
    check_rebuild(MLP, {"n_in": 3, "n_hidden": 5, "n_out": 2}, state_dict)
    with pytest.raises(SerializationError, match=r"layers.0.weight has shape \(5, 3\) but it builds \(6, 3\)"):
        check_rebuild(MLP, {"n_in": 3, "n_hidden": 6, "n_out": 2}, state_dict)
    with pytest.raises(SerializationError, match="do not fit"):
        check_rebuild(MLP, {"n_in": 3, "hidden": 5}, state_dict)
    with pytest.raises(SerializationError, match="module lacks"):
        check_rebuild(nn.Linear, {"in_features": 2, "out_features": 3, "bias": True}, nn.Linear(2, 3, bias=False).state_dict())


def test_rebuild_adopts_the_tensors_without_copying():
    state_dict = MLP(3, 5, 2).state_dict()
    module = rebuild(MLP, {"n_in": 3, "n_hidden": 5, "n_out": 2}, state_dict)
    assert not module.training
    assert module.layers[0].weight.data_ptr() == state_dict["layers.0.weight"].data_ptr()
    assert all(not p.is_meta for p in module.parameters())


def test_rebuild_keeps_tied_weights_tied_and_fills_non_persistent_buffers():
    original = Tied(10, 4)
    state_dict = original.state_dict()
    module = rebuild(Tied, {"vocab": 10, "dim": 4}, state_dict)
    assert module.decode.weight is module.embed.weight
    assert module.scale.item() == 2.0 and not module.scale.is_meta
    tokens = torch.tensor([1, 2, 3])
    assert torch.equal(module(tokens), original.eval()(tokens))


def test_rebuild_keeps_the_stored_dtype():
    state_dict = MLP(3, 5, 2).half().state_dict()
    module = rebuild(MLP, {"n_in": 3, "n_hidden": 5, "n_out": 2}, state_dict)
    assert module.layers[0].weight.dtype == torch.float16


def test_rebuild_refuses_a_state_dict_of_another_layout():
    with pytest.raises(SerializationError, match="does not fit torch_test_nets:MLP"):
        rebuild(MLP, {"n_in": 3, "n_hidden": 5, "n_out": 2}, MLP(3, 6, 2).state_dict())
