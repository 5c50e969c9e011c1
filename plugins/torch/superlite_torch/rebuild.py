"""How a module is described for storage, and rebuilt from that description without pickle.

A module is stored as its class (an import path ``package.module:QualName``), the keyword
arguments its constructor takes (JSON) and its ``state_dict``. Rebuilding constructs the class
on the ``meta`` device (no memory, no random initialisation), then adopts the loaded tensors
as its parameters and buffers (``load_state_dict(assign=True)``), so a large model is never
held twice.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Mapping

import torch
from torch import nn

from superlite.common.json_values import is_json_value
from superlite.components.class_path import class_path, import_class_path
from superlite.errors import SerializationError, StoredClassImportError


def is_importable(cls: type) -> bool:
    """Whether importing ``class_path(cls)`` gives back ``cls`` itself."""
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        return False
    try:
        return import_module_class(class_path(cls)) is cls
    except (StoredClassImportError, SerializationError):
        return False


def import_module_class(path: str) -> type[nn.Module]:
    """The ``nn.Module`` subclass at ``path``; a clear :class:`StoredClassImportError` if it moved."""
    target = import_class_path(path)
    if not (isinstance(target, type) and issubclass(target, nn.Module)):
        raise SerializationError(f"{path} is a {type(target).__qualname__}, not a torch.nn.Module subclass")
    return target


def capture_args(module: nn.Module) -> dict[str, object]:
    """The constructor arguments of ``module``, read from same-named attributes.

    Works only when *every* named parameter of ``__init__`` is kept on the module as a JSON
    value under its own name (``self.hidden = hidden``); anything else raises, asking for
    ``module_args``, because guessing a default could rebuild a silently different model.
    """
    cls = type(module)
    args: dict[str, object] = {}
    missing: list[str] = []
    for parameter in _init_parameters(cls):
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            missing.append(f"*{parameter.name}")
            continue
        value = getattr(module, parameter.name, _MISSING)
        if is_json_value(value):
            args[parameter.name] = value
        else:
            missing.append(parameter.name)
    if missing:
        raise SerializationError(
            f"cannot tell which arguments rebuild {class_path(cls)}: constructor argument(s) "
            f"{', '.join(missing)} are not kept on the module as JSON attributes of the same name. "
            f"Pass module_args={{...}} (the JSON keyword arguments of {cls.__qualname__}(...)) to TorchModel."
        )
    return args


def check_rebuild(cls: type[nn.Module], args: Mapping[str, object], state_dict: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`SerializationError` unless ``cls(**args)`` has the layout of ``state_dict``.

    Run when a model is applied, so that a model that could not be loaded back is never stored.
    """
    try:
        inspect.signature(cls).bind(**args)
    except TypeError as exc:
        raise SerializationError(f"module_args {dict(args)} do not fit {class_path(cls)}{inspect.signature(cls)}: {exc}") from exc
    probe = _construct(cls, args, meta=True)
    if probe is None:
        probe = _construct(cls, args, meta=False, reraise=True)
    expected = _layout(probe.state_dict())
    actual = _layout(state_dict)
    if expected != actual:
        raise SerializationError(
            f"{class_path(cls)}(**{dict(args)}) does not rebuild this module: {_layout_difference(expected, actual)}. "
            f"Pass the module_args it was constructed with."
        )


def rebuild(cls: type[nn.Module], args: Mapping[str, object], state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """``cls(**args)`` holding the tensors of ``state_dict`` (adopted, not copied), in eval mode."""
    module = _construct(cls, args, meta=True)
    if module is not None:
        module = _adopt(module, state_dict)
        if _has_meta_tensors(module):
            module = None
    if module is None:
        module = _adopt(_construct(cls, args, meta=False, reraise=True), state_dict)
    return module.eval()


_MISSING = object()


def _init_parameters(cls: type) -> list[inspect.Parameter]:
    return list(inspect.signature(cls).parameters.values())




def _construct(cls: type[nn.Module], args: Mapping[str, object], *, meta: bool, reraise: bool = False) -> nn.Module | None:
    """``cls(**args)``, on the meta device when asked; None when that fails and not ``reraise``."""
    try:
        if meta:
            with torch.device("meta"):
                return cls(**args)
        return cls(**args)
    except Exception as exc:
        if reraise:
            raise SerializationError(f"{class_path(cls)}(**{dict(args)}) failed: {type(exc).__name__}: {exc}") from exc
        return None


def _adopt(module: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> nn.Module:
    """Make the tensors of ``state_dict`` the module's own, keeping tied weights tied."""
    ties = _tied_names(module)
    try:
        module.load_state_dict(state_dict, strict=True, assign=True)
    except RuntimeError as exc:
        raise SerializationError(f"the stored state_dict does not fit {class_path(type(module))}: {exc}") from exc
    for names in ties:
        shared = module.get_parameter(names[0]) if _is_parameter(module, names[0]) else module.get_buffer(names[0])
        for name in names[1:]:
            owner, _, attribute = name.rpartition(".")
            setattr(module.get_submodule(owner), attribute, shared)
    return module


def _tied_names(module: nn.Module) -> list[list[str]]:
    """Groups of parameter (or buffer) names that are one and the same tensor."""
    groups: dict[int, list[str]] = {}
    named = itertools.chain(module.named_parameters(remove_duplicate=False), module.named_buffers(remove_duplicate=False))
    for name, tensor in named:
        groups.setdefault(id(tensor), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def _is_parameter(module: nn.Module, name: str) -> bool:
    owner, _, attribute = name.rpartition(".")
    return attribute in module.get_submodule(owner)._parameters


def _has_meta_tensors(module: nn.Module) -> bool:
    """Whether anything of ``module`` is still on the meta device (a buffer or tensor attribute not in the state_dict)."""
    for tensor in itertools.chain(module.parameters(), module.buffers()):
        if tensor.is_meta:
            return True
    for submodule in module.modules():
        for value in vars(submodule).values():
            items = value if isinstance(value, (list, tuple)) else value.values() if isinstance(value, dict) else (value,)
            if any(isinstance(item, torch.Tensor) and item.is_meta for item in items):
                return True
    return False


def _layout(state_dict: Mapping[str, object]) -> dict[str, tuple[int, ...] | None]:
    """Key -> tensor shape (None for extra state that is not a tensor)."""
    return {key: tuple(value.shape) if isinstance(value, torch.Tensor) else None for key, value in state_dict.items()}


def _layout_difference(expected: dict[str, tuple[int, ...] | None], actual: dict[str, tuple[int, ...] | None]) -> str:
    missing = sorted(expected.keys() - actual.keys())
    unexpected = sorted(actual.keys() - expected.keys())
    resized = sorted(key for key in expected.keys() & actual.keys() if expected[key] != actual[key])
    parts = []
    if missing:
        parts.append(f"it expects {', '.join(missing)} which the module lacks")
    if unexpected:
        parts.append(f"the module has {', '.join(unexpected)} which it does not create")
    if resized:
        parts.append(", ".join(f"{key} has shape {actual[key]} but it builds {expected[key]}" for key in resized))
    return "; ".join(parts)
