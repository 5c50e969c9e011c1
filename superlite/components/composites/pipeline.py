"""Pipeline: models run one after another, the output of each the input of the next."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from superlite.components.composites.base import Child, CompositeModel
from superlite.errors import ComponentError


@dataclass
class Pipeline(CompositeModel):
    """``Pipeline("clean-then-score", steps=[cleaner, scorer])``: ``predict(x)`` is ``scorer(cleaner(x))``.

    ``predict_batches(xs)`` calls each step's ``predict_batches`` once with the whole batch, so
    a pipeline of batched models stays batched.
    """

    child_fields = ("steps",)

    steps: list[Child] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.steps, list) or not self.steps:
            raise ComponentError(f"Pipeline {self.identifier!r} needs steps=[model, ...] with at least one model")
        self.check_children()

    def predict(self, x: Any) -> Any:
        """Run every step on ``x`` in turn; a failing step is named in the :class:`~superlite.errors.CompositeError`."""
        for step in self.steps:
            x = self.call(step, "predict", x)
        return x

    def predict_batches(self, xs: Sequence[Any]) -> list[Any]:
        """Run every step's ``predict_batches`` on the whole batch in turn."""
        batch = list(xs)
        for step in self.steps:
            batch = list(self.call(step, "predict_batches", batch))
        return batch
