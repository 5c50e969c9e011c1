"""Import by string: ``"package.module:Qualified.Name"`` (or dotted) to the object it names.

Built on :func:`pkgutil.resolve_name`. :func:`resolve` imports what it needs; :func:`find_loaded`
looks only at modules already imported, for code that must not pull in a heavy library (a value
cannot be a ``torch.Tensor`` while torch is not loaded).
"""

from __future__ import annotations

import pkgutil
import sys
from typing import Any


def resolve(path: str) -> Any:
    """The object ``path`` names, importing its module. Raises ImportError or AttributeError."""
    return pkgutil.resolve_name(path)


def find_loaded(path: str) -> Any | None:
    """The object ``path`` (``"module:Qual.Name"``) names if its module is imported already, else None."""
    module_name, _, qualname = path.partition(":")
    target: Any = sys.modules.get(module_name)
    for part in qualname.split(".") if target is not None else ():
        target = getattr(target, part, None)
    return target
