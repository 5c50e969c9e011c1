"""Class paths: how a stored record names the Python class it was made from.

A class path is ``module:QualifiedName`` (``superlite.components.object_model:ObjectModel``).
Storing the path instead of pickling the class keeps records readable and lets a class be
found again after a restart; when it cannot be, the error says which class and which module.
"""

from __future__ import annotations

import importlib
from typing import Any

from superlite.errors import StoredClassImportError


def class_path(cls: type) -> str:
    """``module:QualifiedName`` of ``cls``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class_path(path: str) -> Any:
    """The object a class path names; :class:`StoredClassImportError` naming it if it moved."""
    module_name, _, qualname = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise StoredClassImportError(path, module_name, exc) from exc
    return target
