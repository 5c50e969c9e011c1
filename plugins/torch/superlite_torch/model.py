"""TorchModel: a ``torch.nn.Module`` as a superlite model, stored without pickling the module."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from superlite.components.component import Encoded, transient
from superlite.components.model import Model
from superlite.errors import ComponentError, InvalidArgumentError
from superlite_torch import batching
from superlite_torch.devices import resolve_device
from superlite_torch.rebuild import (
    capture_args,
    check_rebuild,
    class_path,
    import_module_class,
    is_importable,
    rebuild,
)

#: Seconds a ``predict_batches`` run lasts before its progress bar appears (unless asked for).
PROGRESS_DELAY = 2.0

#: The values of ``quantize`` (None: the float module as it is).
QUANTIZE_MODES = ("dynamic",)


def quantize_dynamic_int8(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with its Linear, LSTM and GRU layers dynamically quantized to int8.

    torch marks ``torch.ao.quantization`` deprecated in favour of the separate torchao package,
    which is not a dependency here; its deprecation warnings are silenced for this one call.
    """
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(module, {nn.Linear, nn.LSTM, nn.GRU}, dtype=torch.qint8, inplace=False).eval()


class DillFallbackWarning(UserWarning):
    """A module class has no import path, so the class itself is stored with dill."""


@dataclass
class TorchModel(Model):
    """A PyTorch module as a model: ``predict(x)`` runs one example, ``predict_batches(xs)`` many.

    Stored as the module's class import path and constructor arguments (``module_class`` and
    ``module_args``, JSON in the record) plus its ``state_dict`` (artifact ``object``, written
    by ``torch.save`` and read with ``weights_only=True``), so loading never unpickles code.
    ``module_args`` are the keyword arguments that rebuild the module; when omitted, they are
    read from same-named attributes of the module if every constructor argument is kept that
    way, and applying fails with a clear message otherwise.

    A class defined in ``__main__`` or a notebook has no import path: the class alone is then
    stored with dill (``module_code``), with a :class:`DillFallbackWarning`. ``preprocess`` and
    ``postprocess`` callables are stored with dill, as :class:`~superlite.ObjectModel` stores
    its callable. ``device`` is ``"cpu"``, ``"cuda"`` (``"cuda:N"``) or ``"auto"`` (CUDA when
    available, else the CPU), resolved in the process that runs the model.

    ``quantize="dynamic"`` serves a dynamically quantized int8 copy of the module (torch's
    ``quantize_dynamic`` on its ``Linear``, ``LSTM`` and ``GRU`` layers, CPU only), derived where
    the model is loaded from the stored float weights: a separate version with its own content
    hash, whose answers differ slightly from the float model's (see ``docs/pytorch.md``).
    """

    artifact_fields = {
        "object": "torch_state_dict",
        "preprocess": "dill",
        "postprocess": "dill",
        "module_code": "dill",
    }

    object: nn.Module | Mapping[str, torch.Tensor] | None = None
    preprocess: Callable[[Any], Any] | None = None
    postprocess: Callable[[Any], Any] | None = None
    batch_size: int = 32
    device: str = "cpu"
    module_args: dict[str, Any] | None = field(default=None, kw_only=True)
    module_class: str | None = field(default=None, kw_only=True)
    module_code: type[nn.Module] | None = field(default=None, kw_only=True, repr=False)
    quantize: str | None = field(default=None, kw_only=True)
    #: Progress bar for ``predict_batches``: True always, False never, None after a few seconds on a terminal.
    progress: bool | None = transient(None, kw_only=True)

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise InvalidArgumentError(f"TorchModel {self.identifier!r}: batch_size must be a positive integer, got {self.batch_size!r}")
        device = resolve_device(self.device)
        if isinstance(self.object, Mapping):
            self.object = rebuild(self._stored_class(), self.module_args or {}, self.object)
        if not isinstance(self.object, nn.Module):
            raise ComponentError(f"TorchModel {self.identifier!r} needs a torch.nn.Module as object, got {type(self.object).__qualname__}")
        cls = type(self.object)
        self.module_class = class_path(cls)
        self.module_code = None if is_importable(cls) else cls
        self.object.to(device)
        self._quantized: tuple[nn.Module, nn.Module] | None = None
        if self.quantize is not None:
            if self.quantize not in QUANTIZE_MODES:
                raise ComponentError(f"TorchModel {self.identifier!r}: quantize must be one of {QUANTIZE_MODES}, not {self.quantize!r}")
            if device.type != "cpu":
                raise ComponentError(f"TorchModel {self.identifier!r}: quantize={self.quantize!r} runs on the CPU only, not on {device}")
            self.serving_module  # noqa: B018 - derive the int8 copy now, where the model is built or loaded

    @property
    def serving_module(self) -> nn.Module:
        """The module predictions run on: ``object``, or with ``quantize`` its int8 copy (derived once per object)."""
        if self.quantize is None:
            return self.object
        if self._quantized is None or self._quantized[0] is not self.object:
            self._quantized = (self.object, quantize_dynamic_int8(self.object))
        return self._quantized[1]

    def _stored_class(self) -> type[nn.Module]:
        if self.module_code is not None:
            return self.module_code
        if self.module_class is None:
            raise ComponentError(f"TorchModel {self.identifier!r}: a state_dict as object needs module_class (the import path of its module)")
        return import_module_class(self.module_class)

    @property
    def torch_device(self) -> torch.device:
        """The device this model runs on in this process (``"auto"`` resolved)."""
        return resolve_device(self.device)

    def encode(self) -> Encoded:
        """Store the module as class path + ``module_args`` (JSON) + ``state_dict`` (artifact)."""
        state_dict = self.object.state_dict()
        module_args = capture_args(self.object) if self.module_args is None else self.module_args
        check_rebuild(type(self.object), module_args, state_dict)
        if self.module_code is not None:
            warnings.warn(
                f"TorchModel {self.identifier!r}: {self.module_class} has no import path (defined in __main__, a "
                f"notebook or a function), so the class itself is stored with dill: loading it runs pickled code "
                f"and needs the same code. Define the class in an importable module to store only its path.",
                DillFallbackWarning,
                stacklevel=3,
            )
        encoded = super().encode()
        if self.quantize is None:
            encoded.params.pop("quantize", None)
        encoded.artifacts = {name: entry for name, entry in encoded.artifacts.items() if entry[1] is not None}
        encoded.artifacts["object"] = (self.artifact_fields["object"], state_dict)
        encoded.params["module_args"] = module_args
        return encoded

    def predict(self, x: Any) -> Any:
        """The output for one example ``x`` (the module sees it as a batch of one)."""
        return self._run([x], progress=False)[0]

    def predict_batches(self, xs: Sequence[Any], progress: bool | None = None) -> list[Any]:
        """Outputs for the examples ``xs``, in order, computed ``batch_size`` at a time on the device.

        ``progress`` shows a progress bar: True always, False never, None (default: the
        model's ``progress`` setting) when the run lasts more than a few seconds on a terminal.
        """
        return self._run(list(xs), progress=self.progress if progress is None else progress)

    def _run(self, xs: list[Any], progress: bool | None) -> list[Any]:
        module = self.serving_module
        device = self.torch_device
        float_dtype = next((p.dtype for p in module.parameters() if p.is_floating_point()), None)
        whole_dtype = None if batching.takes_indices(module) else float_dtype
        was_training = module.training
        results: list[Any] = []
        bar = tqdm(
            total=len(xs),
            unit="example",
            desc=self.identifier,
            disable=None if progress is None else not progress,
            delay=PROGRESS_DELAY if progress is None else 0,
        )
        try:
            module.eval()
            for start in range(0, len(xs), self.batch_size):
                inputs = xs[start : start + self.batch_size]
                if self.preprocess is not None:
                    inputs = [self.preprocess(x) for x in inputs]
                kinds = [batching.kind_of(x) for x in inputs]
                batch = batching.collate([batching.as_tensors(x, whole_dtype) for x in inputs])
                with torch.inference_mode():
                    output = batching.to_cpu(batching.call(module, batching.to_device(batch, device, float_dtype)))
                for index, kind in enumerate(kinds):
                    item = batching.unbatch(output, index)
                    results.append(self.postprocess(item) if self.postprocess is not None else batching.as_kind(item, kind))
                bar.update(len(inputs))
        finally:
            bar.close()
            if was_training:
                module.train()
        return results

