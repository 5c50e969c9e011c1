"""PyTorch models for superlite.

:class:`TorchModel` wraps a ``torch.nn.Module``. It is stored as the module's import path,
its constructor arguments (JSON) and its ``state_dict`` (``torch.save``, loaded back with
``weights_only=True``), so loading a stored model never unpickles code::

    from superlite_torch import TorchModel

    model = db.apply(TorchModel("classifier", object=net, module_args={"n_classes": 10}))
    db.load("model", "classifier").predict(x)

Importing this package does not import torch; the names below do, when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from superlite_torch.model import DillFallbackWarning, TorchModel

__all__ = ["DillFallbackWarning", "TorchModel"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from superlite_torch import model

        return getattr(model, name)
    raise AttributeError(f"module 'superlite_torch' has no attribute {name!r}")
