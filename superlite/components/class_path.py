"""Class paths: how a stored record names the Python class it was made from.

A class path is ``module:QualifiedName`` (``superlite.components.object_model:ObjectModel``).
Storing the path instead of pickling the class keeps records readable and lets a class be
found again after a restart; when it cannot be, the error says which class and which module.

A record is data anyone with write access to the database can change, so loading never imports
whatever it names: :func:`import_component_class` first checks the module against an optional
allow-list (before importing anything), then that the object is a class derived from the
expected base (``Component``), and only then lets the caller build it. A record set to
``os:system`` is refused rather than called.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from superlite.common.imports import resolve
from superlite.errors import StoredClassImportError, UntrustedClassError


def class_path(cls: type) -> str:
    """``module:QualifiedName`` of ``cls``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class_path(path: str) -> Any:
    """The object a class path names; :class:`StoredClassImportError` naming it if it moved."""
    try:
        return resolve(path)
    except (ImportError, AttributeError, ValueError) as exc:
        raise StoredClassImportError(path, path.partition(":")[0], exc) from exc


def module_allowed(module: str, allowed_modules: Iterable[str]) -> bool:
    """Whether ``module`` is one of ``allowed_modules`` or inside one of them (``a.b`` is inside ``a``)."""
    return any(module == allowed or module.startswith(f"{allowed}.") for allowed in allowed_modules)


def import_component_class(path: str, base: type, allowed_modules: Iterable[str] | None = None) -> type:
    """The class ``path`` names, if it may be built from a stored record; :class:`UntrustedClassError` if not.

    With ``allowed_modules``, a module outside them is refused before it is imported. The
    object must be a subclass of ``base``.
    """
    module = path.partition(":")[0]
    if allowed_modules is not None and not module_allowed(module, allowed_modules):
        raise UntrustedClassError(
            f"the stored class {path!r} is in module {module!r}, outside allowed_modules "
            f"({', '.join(allowed_modules) or 'none'}); it was not imported. Add the module to allowed_modules if "
            "you trust it, or remove the record"
        )
    target = import_class_path(path)
    if not (isinstance(target, type) and issubclass(target, base)):
        raise UntrustedClassError(
            f"the stored class path {path!r} names {type(target).__qualname__} {target!r}, not a subclass of "
            f"{base.__qualname__}; it was not called. The record was changed outside superlite: remove it and apply "
            "the component again"
        )
    return target
