"""Class paths: how a stored record names the Python class it was made from.

A class path is ``module:QualifiedName`` (``superlite.components.object_model:ObjectModel``).
Storing the path instead of pickling the class keeps records readable and lets a class be
found again after a restart; when it cannot be, the error says which class and which module.
"""

from __future__ import annotations

from typing import Any

from superlite.common.imports import resolve
from superlite.errors import StoredClassImportError


def class_path(cls: type) -> str:
    """``module:QualifiedName`` of ``cls``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class_path(path: str) -> Any:
    """The object a class path names; :class:`StoredClassImportError` naming it if it moved."""
    try:
        return resolve(path)
    except (ImportError, AttributeError, ValueError) as exc:
        raise StoredClassImportError(path, path.partition(":")[0], exc) from exc
