"""Bad input to each public function gets an error that names the problem and the fix."""

from __future__ import annotations

import pytest

import superlite
from superlite import ObjectModel
from superlite.config import mask_uri
from superlite.errors import (
    ConfigurationError,
    NotFoundError,
    StoreUnavailableError,
    SuperliteError,
    UnknownSchemeError,
)


def test_unknown_scheme_lists_installed_schemes():
    with pytest.raises(UnknownSchemeError, match="no database store is installed for URI scheme 'nosuch'") as info:
        superlite.connect("nosuch://host/db")
    assert {"sqlite", "postgresql", "mysql"} <= set(info.value.installed)


def test_unknown_artifact_scheme(tmp_path):
    with pytest.raises(UnknownSchemeError, match="no artifact store is installed for URI scheme 's4'"):
        superlite.connect(f"sqlite:///{tmp_path}/x.db", artifacts="s4://bucket")


def test_unknown_broker_scheme(tmp_path):
    with pytest.raises(UnknownSchemeError, match="'carrier-pigeon'"):
        superlite.connect(f"sqlite:///{tmp_path}/x.db", broker="carrier-pigeon://coop")


def test_unreachable_database_masks_password():
    with pytest.raises(StoreUnavailableError) as info:
        superlite.connect("postgresql://alice:s3cret@127.0.0.1:1/nowhere")
    assert "s3cret" not in str(info.value)
    assert "alice:***@127.0.0.1:1" in str(info.value)


def test_mask_uri_hides_only_the_password():
    assert mask_uri("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"
    assert mask_uri("amqp://guest:guest@localhost//") == "amqp://guest:***@localhost//"
    assert mask_uri("sqlite:///x.db") == "sqlite:///x.db"


def test_apply_refuses_non_components(db):
    with pytest.raises(TypeError, match="apply takes a superlite Component"):
        db.apply(lambda x: x)


def test_load_wrong_type_id(db):
    model = db.apply(ObjectModel("m", object=lambda x: x))
    with pytest.raises(NotFoundError, match="no listener named 'm'"):
        db.load("listener", "m")
    with pytest.raises(NotFoundError, match="is model 'm', not listener"):
        db.load("listener", uuid=model.uuid)


def test_compute_with_malformed_reference(db):
    with pytest.raises(ConfigurationError, match="is not a component reference"):
        db.compute("model:m", "predict", (1,))


def test_compute_with_unknown_uuid(db):
    with pytest.raises(NotFoundError, match="no component with uuid"):
        db.compute("&:component:model:m:00000000-0000-4000-8000-000000000000", "predict", (1,))


def test_every_error_is_a_superlite_error():
    for name in dir(superlite.errors):
        value = getattr(superlite.errors, name)
        if isinstance(value, type) and issubclass(value, Exception) and value.__module__ == "superlite.errors":
            assert issubclass(value, SuperliteError), name
