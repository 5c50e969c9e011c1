"""``torch.Tensor`` on the broker: the ``torch.tensor`` wire type, carried without pickle.

A tensor travels as its dtype name, its shape and its raw bytes (as a numpy ``uint8`` array,
which the codec writes as base64), so every dtype crosses, ``bfloat16`` included. Tensors
arrive on the CPU, detached from any autograd graph. This module does not import torch at
import time: the codec loads wire types whenever it meets an unknown type, and a process that
never touches torch should not pay for importing it.
"""

from __future__ import annotations

from typing import Any

from superlite.errors import SerializationError
from superlite.serialization.wire import WireType


def _encode(tensor: Any) -> dict[str, Any]:
    import torch

    if tensor.layout is not torch.strided or tensor.is_quantized:
        raise SerializationError(f"only dense tensors travel over the broker, not a {tensor.layout} tensor; send tensor.to_dense()")
    flat = tensor.detach().cpu().resolve_conj().resolve_neg().contiguous().reshape(-1)
    return {
        "dtype": str(flat.dtype).removeprefix("torch."),
        "shape": list(tensor.shape),
        "data": flat.view(torch.uint8).numpy(),
    }


def _decode(value: dict[str, Any]) -> Any:
    import torch

    dtype = getattr(torch, value["dtype"], None)
    if not isinstance(dtype, torch.dtype):
        raise SerializationError(f"received a tensor of unknown dtype {value['dtype']!r}")
    return torch.from_numpy(value["data"]).view(dtype).reshape(value["shape"])


#: The wire type registered under the ``superlite.wire_types`` entry point ``torch.tensor``.
TENSOR = WireType(tag="torch.tensor", types=("torch:Tensor",), encode=_encode, decode=_decode)
