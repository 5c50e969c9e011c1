"""ObjectModel around callables and around objects with a predict method (a real scikit-learn pipeline)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from superlite import ObjectModel
from superlite.errors import ComponentError


@pytest.fixture(scope="module")
def pipeline():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), x[:5]


class Scorer:
    """Callable and with a predict method: calling it wins unless method= says otherwise."""

    def __call__(self, x: int) -> str:
        return f"called {x}"

    def predict(self, x: int) -> str:
        return f"predicted {x}"


def test_an_estimator_is_served_through_its_predict_method(db, pipeline):
    estimator, sample = pipeline
    applied = db.apply(ObjectModel("clf", object=estimator))
    loaded = db.load("model", "clf", lazy=False)
    assert loaded.uuid == applied.uuid
    np.testing.assert_array_equal(loaded.predict(sample), estimator.predict(sample))
    np.testing.assert_array_equal(db.load("model", "clf").predict(sample), estimator.predict(sample))


def test_method_names_another_method(db, pipeline):
    estimator, sample = pipeline
    db.apply(ObjectModel("proba", object=estimator, method="predict_proba"))
    np.testing.assert_allclose(db.load("model", "proba", lazy=False).predict(sample), estimator.predict_proba(sample))
    assert db.record("model", "proba").params["method"] == "predict_proba"


def test_an_unset_method_is_not_stored_so_earlier_content_hashes_hold(db):
    db.apply(ObjectModel("f", object=len))
    assert "method" not in db.record("model", "f").params
    assert db.apply(ObjectModel("f", object=len)).version == 0


def test_a_callable_is_called_unless_method_is_given():
    assert ObjectModel("s", object=Scorer()).predict(1) == "called 1"
    assert ObjectModel("s", object=Scorer(), method="predict").predict(1) == "predicted 1"


def test_an_object_with_nothing_to_call_is_a_clear_error():
    with pytest.raises(ComponentError, match="has neither; wrap it in a function, or pass method="):
        ObjectModel("bad", object=object())
    with pytest.raises(ComponentError, match="has no method 'transform'") as caught:
        ObjectModel("bad", object=Scorer(), method="transform")
    assert isinstance(caught.value, TypeError)
