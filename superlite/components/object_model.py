"""ObjectModel: any Python callable, or any object with a predict method, as a model, stored with dill."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from superlite.components.component import Encoded
from superlite.components.model import Model
from superlite.errors import ComponentError

#: The method an ObjectModel calls on an object that is not callable itself.
DEFAULT_METHOD = "predict"


@dataclass
class ObjectModel(Model):
    """Wraps a Python object; ``predict(x)`` calls it on ``x``.

    With ``method=None`` (the default) a callable object is called (``object(x)``), and any
    other object's ``predict`` method is (a scikit-learn estimator or pipeline:
    ``object.predict(x)``). ``method="name"`` calls ``object.name(x)`` instead, e.g.
    ``method="predict_proba"``. The object is stored with dill, so lambdas, closures and
    functions defined in ``__main__`` or a notebook work.

    Raises :class:`~superlite.errors.ComponentError` when the object has nothing to call.
    """

    artifact_fields = {"object": "dill"}

    object: Any = None
    method: str | None = None

    def __post_init__(self) -> None:
        self._target()

    def encode(self) -> Encoded:
        """As :meth:`Component.encode`, leaving ``method`` out when unset (content hashes stay as before it existed)."""
        encoded = super().encode()
        if self.method is None:
            del encoded.params["method"]
        return encoded

    def _target(self) -> Callable[[Any], Any]:
        what = type(self.object).__qualname__
        if self.method is not None:
            target = getattr(self.object, self.method, None)
            if not callable(target):
                raise ComponentError(
                    f"ObjectModel {self.identifier!r}: the object (a {what}) has no method {self.method!r}; "
                    f"pass the name of one of its methods as method=, or method=None to call the object itself"
                )
            return target
        if callable(self.object):
            return self.object
        target = getattr(self.object, DEFAULT_METHOD, None)
        if callable(target):
            return target
        raise ComponentError(
            f"ObjectModel {self.identifier!r} needs a callable object or one with a {DEFAULT_METHOD!r} method, "
            f"but got a {what}, which has neither; wrap it in a function, or pass method='name' to call "
            f"another of its methods"
        )

    def predict(self, x: Any) -> Any:
        """Call the wrapped object (or its ``method``) on ``x``."""
        return self._target()(x)

    def predict_batches(self, xs: Sequence[Any]) -> list[Any]:
        """Call the wrapped object on each of ``xs``, looked up once for them all."""
        target = self._target()
        return [target(x) for x in xs]
