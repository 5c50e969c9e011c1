"""Turning user inputs into batches for a module, and its outputs back into per-input results.

An input is one example: a tensor, a numpy array, a list (of numbers, nested), or a tuple or
dict of those when the module takes several arguments (``module(*x)`` / ``module(**x)``).
Without a ``postprocess``, each result comes back in the kind of its input: an array for an
array, a list for a list, a tensor otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import torch

from superlite.errors import InvalidArgumentError

#: The kinds of value results come back as (see :func:`kind_of`).
TENSOR, NUMPY, LIST = "tensor", "numpy", "list"


def kind_of(x: object) -> str:
    """Which kind of value (``"tensor"``, ``"numpy"`` or ``"list"``) results for ``x`` come back as."""
    if _is_ndarray(x):
        return NUMPY
    if isinstance(x, list):
        return LIST
    if isinstance(x, tuple) and x:
        return kind_of(x[0])
    if isinstance(x, dict) and x:
        return kind_of(next(iter(x.values())))
    return TENSOR


def as_tensors(x: object, whole_dtype: torch.dtype | None = None) -> Any:
    """``x`` with arrays, lists and numbers made tensors, keeping tuple and dict structure.

    Whole numbers given as Python lists or numbers (what JSON gives) become ``whole_dtype``
    when it is set; tensors and arrays keep the dtype their caller chose.
    """
    if isinstance(x, torch.Tensor):
        return x
    if _is_ndarray(x):
        return torch.from_numpy(x)
    if isinstance(x, tuple):
        return tuple(as_tensors(item, whole_dtype) for item in x)
    if isinstance(x, dict):
        return {key: as_tensors(value, whole_dtype) for key, value in x.items()}
    if isinstance(x, (list, int, float, bool)):
        tensor = torch.as_tensor(x)
        if whole_dtype is not None and not tensor.is_floating_point() and tensor.dtype != torch.bool:
            return tensor.to(whole_dtype)
        return tensor
    return x


def takes_indices(module: torch.nn.Module) -> bool:
    """Whether ``module`` looks up embeddings, so whole-number inputs are indices, not values."""
    return any(isinstance(m, (torch.nn.Embedding, torch.nn.EmbeddingBag)) for m in module.modules())


def collate(items: Sequence[Any]) -> Any:
    """Stack examples along a new first (batch) dimension, structure by structure."""
    first = items[0]
    if isinstance(first, torch.Tensor):
        try:
            return torch.stack(items)
        except RuntimeError as exc:
            shapes = sorted({tuple(item.shape) for item in items})
            raise InvalidArgumentError(
                f"inputs in one batch must have the same shape to be stacked, got {shapes}; pad them in a "
                f"preprocess, or use batch_size=1"
            ) from exc
    if isinstance(first, tuple):
        return tuple(collate([item[i] for item in items]) for i in range(len(first)))
    if isinstance(first, dict):
        return {key: collate([item[key] for item in items]) for key in first}
    raise TypeError(f"cannot batch inputs of type {type(first).__qualname__}; give tensors, arrays, lists, or a preprocess that makes them")


def to_device(batch: Any, device: torch.device, float_dtype: torch.dtype | None) -> Any:
    """``batch`` moved to ``device``, floating-point tensors cast to the module's ``float_dtype``."""
    if isinstance(batch, torch.Tensor):
        dtype = float_dtype if float_dtype is not None and batch.is_floating_point() else None
        return batch.to(device=device, dtype=dtype, non_blocking=True)
    if isinstance(batch, tuple):
        return tuple(to_device(item, device, float_dtype) for item in batch)
    if isinstance(batch, dict):
        return {key: to_device(value, device, float_dtype) for key, value in batch.items()}
    return batch


def call(module: torch.nn.Module, batch: Any) -> Any:
    """``module(batch)``; a tuple is spread as positional, a dict as keyword arguments."""
    if isinstance(batch, tuple):
        return module(*batch)
    if isinstance(batch, dict):
        return module(**batch)
    return module(batch)


def to_cpu(output: Any) -> Any:
    """``output`` with every tensor moved to the CPU."""
    if isinstance(output, torch.Tensor):
        return output.cpu()
    if isinstance(output, (tuple, list)):
        return type(output)(to_cpu(item) for item in output)
    if isinstance(output, dict):
        return {key: to_cpu(value) for key, value in output.items()}
    return output


def unbatch(output: Any, index: int) -> Any:
    """The part of a batched ``output`` that belongs to example ``index``."""
    if isinstance(output, torch.Tensor):
        return output[index]
    if isinstance(output, (tuple, list)):
        return type(output)(unbatch(item, index) for item in output)
    if isinstance(output, dict):
        return {key: unbatch(value, index) for key, value in output.items()}
    return output


def as_kind(output: Any, kind: str) -> Any:
    """``output`` with its tensors made numpy arrays or lists when ``kind`` says so."""
    if isinstance(output, torch.Tensor):
        if kind == NUMPY:
            return output.numpy()
        return output.tolist() if kind == LIST else output
    if isinstance(output, (tuple, list)):
        return type(output)(as_kind(item, kind) for item in output)
    if isinstance(output, dict):
        return {key: as_kind(value, kind) for key, value in output.items()}
    return output


def _is_ndarray(x: object) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(x, numpy.ndarray)
