"""RemoteModel scenarios that need no worker (seed 000): the proxy with in-process compute."""

from __future__ import annotations

import pytest

from superlite import ObjectModel, RemoteModel
from superlite.errors import ComponentError, SuperliteError


def square(x):
    return x * x


def test_serve_true_returns_a_proxy_holding_the_original():
    model = ObjectModel("sq", object=square, serve=True)
    assert isinstance(model, RemoteModel)
    assert model.has_original and model.db is None
    assert model.predict(3) == 9
    assert model.predict_batches([1, 2, 3]) == [1, 4, 9]


def test_serve_false_is_the_plain_model():
    model = ObjectModel("sq", object=square)
    assert type(model) is ObjectModel
    assert model.predict_batches([2, 3]) == [4, 9]


def test_scenario_two_apply_then_predict_through_compute(db):
    model = ObjectModel("sq", object=square, serve=True)
    calls = []
    original_compute = db.compute

    def spy(reference, method, *args, **kwargs):
        calls.append((reference, method))
        return original_compute(reference, method, *args, **kwargs)

    db.compute = spy
    applied = db.apply(model)
    assert applied is model and model.version == 0 and model.db is db
    assert model.predict(4) == 16
    assert calls == [(model.selector, "predict")]
    assert model.predict_batches(list(range(10))) == [x * x for x in range(10)]


def test_scenario_three_load_gives_proxy_without_original(db):
    db.apply(ObjectModel("sq", object=square))
    proxy = db.load("model", "sq")
    assert isinstance(proxy, RemoteModel) and not proxy.has_original
    assert proxy.predict(5) == 25
    assert not proxy.has_original, "in-process compute uses the Datalayer's model cache, not the proxy"


def test_encode_is_reference_once_stored(db):
    proxy = db.apply(ObjectModel("sq", object=square, serve=True))
    assert proxy.encode().reference == f"&:component:model:sq:{proxy.uuid}"
    unstored = ObjectModel("other", object=square, serve=True)
    assert unstored.encode().reference is None
    assert "object" in unstored.encode().artifacts


def test_applying_a_loaded_proxy_is_a_no_op(db):
    db.apply(ObjectModel("sq", object=square))
    proxy = db.load("model", "sq")
    assert db.apply(proxy) is proxy
    assert db.show("model", "sq") == [0]


def test_reapplying_a_proxy_definition_reuses_the_version(db):
    first = db.apply(ObjectModel("sq", object=square, serve=True))
    second = db.apply(ObjectModel("sq", object=square, serve=True))
    assert second.uuid == first.uuid


def test_detached_proxy_without_original_says_so():
    with pytest.raises(SuperliteError, match="holds no model and is not attached"):
        RemoteModel("ghost").predict(1)


def test_reference_needs_uuid():
    with pytest.raises(SuperliteError, match="apply it to a Datalayer first"):
        ObjectModel("sq", object=square).reference


def test_object_model_needs_callable():
    with pytest.raises(ComponentError, match="needs a callable object or one with a 'predict' method") as caught:
        ObjectModel("bad", object=42)
    assert isinstance(caught.value, SuperliteError) and isinstance(caught.value, TypeError)


def test_selector_is_built_once_per_target():
    proxy = RemoteModel("sq", uuid="a" * 32, version=1)
    first = proxy.selector
    assert proxy.selector is first, "predict asks for it on every call"
    proxy.uuid, proxy.version = "b" * 32, 2
    assert (proxy.selector.uuid, proxy.selector.version, proxy.selector.alias) == ("b" * 32, 2, None)
    proxy.alias = "production"
    assert (proxy.selector.uuid, proxy.selector.alias) == (None, "production")
