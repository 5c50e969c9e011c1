"""Weights loaded once per process: models stored with the same shareable artifact share the loaded object."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

import superlite
from superlite import Model, ObjectModel


@dataclass
class Scaled(Model):
    """``weights * factor``: the weights are a numpy artifact, the factor a parameter."""

    artifact_fields: ClassVar[dict[str, str]] = {"weights": "numpy"}

    weights: Any = None
    factor: float = 1.0

    def predict(self, x: Any) -> Any:
        return float(self.weights[x] * self.factor)


def test_models_with_the_same_weights_share_one_loaded_array(tmp_path) -> None:
    weights = np.arange(1_000_000, dtype=np.float32)
    with superlite.connect(f"sqlite:///{tmp_path}/w.db") as db:
        a = db.apply(Scaled("a", weights=weights, factor=1.0))
        b = db.apply(Scaled("b", weights=weights.copy(), factor=2.0))
        other = db.apply(Scaled("c", weights=weights + 1, factor=1.0))
    with superlite.connect(f"sqlite:///{tmp_path}/w.db") as db:
        loaded_a, loaded_b, loaded_c = (db.executor.models.get(m.uuid) for m in (a, b, other))
        assert loaded_a.weights is loaded_b.weights  # one array for both models
        assert loaded_c.weights is not loaded_a.weights
        assert (db.registry.shared.reads, db.registry.shared.shared) == (2, 1)
        assert (db.compute(a.reference, "predict", (3,)), db.compute(b.reference, "predict", (3,))) == (3.0, 6.0)
        db.executor.close()
        del loaded_a, loaded_b, loaded_c
        gc.collect()
        assert db.registry.shared.held() == []  # dropped with the last model using it


def test_code_artifacts_are_never_shared(tmp_path) -> None:
    with superlite.connect(f"sqlite:///{tmp_path}/d.db") as db:
        first = db.apply(ObjectModel("f", object=abs))
        second = db.apply(ObjectModel("g", object=abs))
        assert db.record("model", "f").artifacts[0].digest == db.record("model", "g").artifacts[0].digest
        db.executor.models.get(first.uuid), db.executor.models.get(second.uuid)
        assert db.registry.shared.held() == []  # dill artifacts hold code or state: one load per model
