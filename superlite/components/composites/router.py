"""Router: conditional switching, each input sent to the model its ``select(x)`` key names."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from superlite.components.composites.base import Child, CompositeModel
from superlite.errors import ComponentError


@dataclass
class Router(CompositeModel):
    """``Router("by-lang", routes={"en": en, "de": de}, select=lambda x: x["lang"], default=en)``.

    ``select(x)`` gives a key of ``routes``; an input whose key is not there goes to ``default``.
    ``select`` is stored with dill (lambdas work). ``predict_batches`` groups a batch by route
    and calls each route's ``predict_batches`` once, answers in input order.
    """

    artifact_fields = {"select": "dill"}
    child_fields = ("routes", "default")

    routes: dict[str, Child] = field(default_factory=dict)
    select: Callable[[Any], Any] | None = None
    default: Child | None = None

    def __post_init__(self) -> None:
        name = f"Router {self.identifier!r}"
        if not isinstance(self.routes, dict) or not self.routes:
            raise ComponentError(f"{name} needs routes={{key: model, ...}} with at least one route")
        if not all(isinstance(key, str) for key in self.routes):
            raise ComponentError(f"{name}: route keys must be strings (they are stored as JSON), got {list(self.routes)!r}")
        if not callable(self.select):
            raise ComponentError(f"{name}: select must be a function of the input returning a route key, got {self.select!r}")
        if self.default is None:
            raise ComponentError(f"{name} needs default=<model>: the model for inputs whose key is not one of {sorted(self.routes)}")
        self.check_children()

    def route(self, x: Any) -> Child:
        """The child that answers ``x``."""
        return self.routes.get(str(self.select(x)), self.default)  # type: ignore[misc, arg-type, return-value]

    def predict(self, x: Any) -> Any:
        """The answer of the route ``select(x)`` names (or of ``default``)."""
        return self.call(self.route(x), "predict", x)

    def predict_batches(self, xs: Sequence[Any]) -> list[Any]:
        """One ``predict_batches`` call per route used, answers in input order."""
        groups: dict[int, tuple[Child, list[int]]] = {}
        for i, x in enumerate(xs):
            child = self.route(x)
            groups.setdefault(id(child), (child, []))[1].append(i)
        answers: list[Any] = [None] * len(xs)
        for child, positions in groups.values():
            for position, answer in zip(positions, self.call(child, "predict_batches", [xs[i] for i in positions]), strict=True):
                answers[position] = answer
        return answers
