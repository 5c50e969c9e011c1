"""ObjectModel: any Python callable as a model, stored with dill."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from superlite.components.model import Model


@dataclass
class ObjectModel(Model):
    """Wraps a callable; ``predict(x)`` is ``object(x)``.

    The callable is stored with dill, so lambdas, closures and functions defined in
    ``__main__`` or a notebook work.
    """

    artifact_fields = {"object": "dill"}

    object: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if not callable(self.object):
            raise TypeError(f"ObjectModel {self.identifier!r} needs a callable object, got {type(self.object).__qualname__}")

    def predict(self, x: Any) -> Any:
        """Call the wrapped object on ``x``."""
        return self.object(x)
