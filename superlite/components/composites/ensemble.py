"""Ensemble: several models answer the same input in parallel; their answers are combined."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from superlite.components.component import Encoded
from superlite.components.composites.base import Child, CompositeModel, child_name, run_parallel
from superlite.errors import ComponentError, CompositeError

#: The combine rules named by a string.
COMBINES = ("mean", "vote")
#: What ``on_error`` accepts.
ON_ERROR = ("raise", "skip")


@dataclass
class Ensemble(CompositeModel):
    """``Ensemble("vote3", models=[m1, m2, m3], combine="vote")``.

    ``combine`` is ``"mean"`` (the default: numbers, or lists of numbers element-wise),
    ``"vote"`` (the most frequent answer; a tie goes to the earliest member), or a function of
    the list of answers (stored with dill). ``weights`` weight the mean or the vote, one per
    member. Members run in parallel threads; where their calls run depends on where the
    ensemble does (see ``docs/serving-composites.md``). A failing member raises
    :class:`~superlite.errors.CompositeError` naming it; with ``on_error="skip"`` the others
    answer, and only all failing is an error.
    """

    artifact_fields = {"combine": "dill"}
    child_fields = ("models",)

    models: list[Child] = field(default_factory=list)
    combine: str | Callable[[list[Any]], Any] = "mean"
    weights: list[float] | None = None
    on_error: str = "raise"

    def __post_init__(self) -> None:
        name = f"Ensemble {self.identifier!r}"
        if not isinstance(self.models, list) or not self.models:
            raise ComponentError(f"{name} needs models=[model, ...] with at least one model")
        if not callable(self.combine) and self.combine not in COMBINES:
            raise ComponentError(f"{name}: unknown combine {self.combine!r}; use one of {', '.join(COMBINES)} or a function of the answers")
        if self.weights is not None:
            if callable(self.combine):
                raise ComponentError(f"{name}: weights apply to combine='mean' or 'vote'; a combine function receives the answers only")
            if len(self.weights) != len(self.models):
                raise ComponentError(f"{name}: {len(self.weights)} weights for {len(self.models)} models; give one weight per model")
            self.weights = [float(w) for w in self.weights]
        if self.on_error not in ON_ERROR:
            raise ComponentError(f"{name}: on_error={self.on_error!r}; use 'raise' or 'skip'")
        self.check_children()

    def encode(self) -> Encoded:
        """As :meth:`CompositeModel.encode`; ``on_error`` is stored only when not the default."""
        encoded = super().encode()
        if self.on_error == "raise":
            encoded.params.pop("on_error", None)
        if self.weights is None:
            encoded.params.pop("weights", None)
        return encoded

    def predict(self, x: Any) -> Any:
        """Every member's answer to ``x`` (in parallel), combined."""
        answers = self._answers("predict", x)
        return self._combine(answers)

    def predict_batches(self, xs: Sequence[Any]) -> list[Any]:
        """Every member's ``predict_batches`` on the whole batch (in parallel), combined per input."""
        batch = list(xs)
        answers = self._answers("predict_batches", batch)
        return [self._combine([(weight, answer[i]) for weight, answer in answers]) for i in range(len(batch))]

    def _answers(self, method: str, arg: Any) -> list[tuple[float, Any]]:
        outcomes = run_parallel([lambda child=child: self.call(child, method, arg) for child in self.models])
        weights = self.weights or [1.0] * len(self.models)
        answers: list[tuple[float, Any]] = []
        failures: dict[str, str] = {}
        for child, weight, outcome in zip(self.models, weights, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if self.on_error == "raise":
                    raise outcome
                failures[child_name(child)] = str(outcome)
            else:
                answers.append((weight, outcome))
        if not answers:
            first = next(iter(failures))
            raise CompositeError(self.identifier, first, f"every member failed: {failures}", failures)
        return answers

    def _combine(self, answers: list[tuple[float, Any]]) -> Any:
        if callable(self.combine):
            return self.combine([answer for _, answer in answers])
        if self.combine == "vote":
            return _vote(answers)
        try:
            return _mean(answers)
        except TypeError as exc:
            values = [answer for _, answer in answers]
            raise CompositeError(
                self.identifier, "combine", f"combine='mean' needs numbers or lists of numbers, got {values!r}; use combine='vote' or a function"
            ) from exc


def _vote(answers: list[tuple[float, Any]]) -> Any:
    tally: Counter[str] = Counter()
    first: dict[str, Any] = {}
    for weight, answer in answers:
        key = repr(answer)
        tally[key] += weight
        first.setdefault(key, answer)
    best = max(tally.values())
    return next(first[key] for key in first if tally[key] == best)


def _mean(answers: list[tuple[float, Any]]) -> Any:
    total = sum(weight for weight, _ in answers)
    values = [answer for _, answer in answers]
    if all(isinstance(value, (list, tuple)) for value in values):
        return [sum(w * v[i] for (w, _), v in zip(answers, values, strict=True)) / total for i in range(len(values[0]))]
    return sum(weight * answer for weight, answer in answers) / total
