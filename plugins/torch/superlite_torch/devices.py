"""Which device a model runs on: ``"cpu"``, ``"cuda"`` (or ``"cuda:1"``, …) or ``"auto"``."""

from __future__ import annotations

import torch

from superlite.errors import ConfigurationError

#: The device name that picks CUDA when this process has it, else the CPU.
AUTO = "auto"


def resolve_device(name: str) -> torch.device:
    """The torch device ``name`` stands for here; ``"auto"`` is CUDA when available, else CPU.

    Raises :class:`~superlite.errors.ConfigurationError` for a malformed name, or for CUDA in a
    process that has none (use ``"auto"`` to fall back to the CPU instead).
    """
    if name == AUTO:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"device {name!r} is not a torch device; use 'cpu', 'cuda', 'cuda:N' or 'auto'") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(f"device {name!r} asks for CUDA, which this process does not have; use device='auto' to fall back to the CPU")
    return device
