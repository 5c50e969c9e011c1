"""Version metadata (description, tags, metrics, source), tags set after apply, search, reuse_existing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

import superlite
from superlite import ObjectModel
from superlite.errors import ArgumentTypeError, NotFoundError
from superlite.testing.cli import run_cli
from superlite.testing.databases import isolated_database


def double(x: int) -> int:
    return 2 * x


def triple(x: int) -> int:
    return 3 * x


@pytest.fixture(params=["sqlite", "postgresql", "mongomock"])
def uri(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "mongomock":
        yield f"mongomock://meta-{uuid.uuid4().hex[:8]}"
        return
    with isolated_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def db(uri: str) -> Iterator[superlite.Datalayer]:
    with superlite.connect(uri, broker=None) as datalayer:
        yield datalayer


def test_metadata_is_stored_and_loaded_but_not_hashed(db: superlite.Datalayer) -> None:
    described = ObjectModel(
        "m", object=double, description="doubles", tags={"team": "nlp"}, metrics={"accuracy": 0.9},
        source={"run": "r-17", "commit": "abc123"},
    )
    first = db.apply(described)
    record = db.record("model", "m")
    assert record.info == {
        "description": "doubles", "tags": {"team": "nlp"}, "metrics": {"accuracy": 0.9},
        "source": {"run": "r-17", "commit": "abc123"},
    }
    assert "tags" not in record.params and "description" not in record.params
    loaded = db.load("model", "m", lazy=False)
    assert (loaded.description, loaded.tags, loaded.metrics) == ("doubles", {"team": "nlp"}, {"accuracy": 0.9})
    again = db.apply(ObjectModel("m", object=double, description="other words", tags={"team": "ml"}))
    assert again.version == first.version  # same content: same version, its metadata kept
    assert db.record("model", "m").info["description"] == "doubles"
    assert record.content_hash == db.record("model", "m").content_hash


def test_a_model_without_metadata_encodes_as_before() -> None:
    params = ObjectModel("m", object=double).encode().params
    assert not {"description", "tags", "metrics", "source"} & set(params)


def test_tags_change_after_apply_without_a_new_version(db: superlite.Datalayer) -> None:
    db.apply(ObjectModel("m", object=double, tags={"team": "nlp"}))
    db.apply(ObjectModel("m", object=triple))
    assert db.set_tags("model", "m", version=0, tags={"stage": "prod"}) == {"team": "nlp", "stage": "prod"}
    assert db.set_tags("model", "m", version=0, tags={"team": None}) == {"stage": "prod"}
    assert db.set_tags("model", "m", tags={"stage": "canary"}) == {"stage": "canary"}  # the latest: version 1
    assert db.show("model", "m") == [0, 1]
    found = db.search("model", tags={"stage": "prod"})
    assert [(r["identifier"], r["version"]) for r in found] == [("m", 0)]
    assert [r["version"] for r in db.search("model")] == [0, 1]
    with pytest.raises(NotFoundError):
        db.set_tags("model", "m", version=7, tags={"a": "b"})


@pytest.mark.parametrize(
    "bad", [{"tags": {"team": 1}}, {"tags": ["a"]}, {"metrics": {"acc": "high"}}, {"metrics": {"acc": float("nan")}},
            {"description": 5}, {"source": object()}],
)
def test_bad_metadata_is_refused_at_apply(db: superlite.Datalayer, bad: dict) -> None:
    with pytest.raises((ArgumentTypeError, superlite.errors.SerializationError)):
        db.apply(ObjectModel("m", object=double, **bad))
    assert "model" not in db.show()


def test_reuse_existing_returns_the_older_version(db: superlite.Datalayer) -> None:
    db.apply(ObjectModel("m", object=double))
    db.apply(ObjectModel("m", object=triple))
    assert db.apply(ObjectModel("m", object=double), reuse_existing=True).version == 0
    assert db.show("model", "m") == [0, 1]
    assert db.apply(ObjectModel("m", object=double)).version == 2  # by default, older content is a new version


def test_cli_tag_search_and_show_long(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path / 'cli.db'}"
    with superlite.connect(uri, broker=None) as db:
        db.apply(ObjectModel("m", object=double, description="doubles", metrics={"accuracy": 0.9}))
    tagged = run_cli("tag", "model", "m", "team=nlp", "stage=prod", uri=uri)
    assert tagged.returncode == 0, tagged.stderr
    assert json.loads(tagged.stdout) == {"team": "nlp", "stage": "prod"}
    found = json.loads(run_cli("search", "model", "--tag", "team=nlp", uri=uri).stdout)
    assert [(f["identifier"], f["version"], f["tags"]["stage"]) for f in found] == [("m", 0, "prod")]
    long = json.loads(run_cli("show", "model", "--long", uri=uri).stdout)
    assert long["m"][0]["description"] == "doubles" and long["m"][0]["metrics"] == {"accuracy": 0.9}
    info = json.loads(run_cli("info", "model", "m", uri=uri).stdout)
    assert info["info"]["tags"] == {"team": "nlp", "stage": "prod"}
    refused = run_cli("tag", "model", "m", "oops", uri=uri)
    assert refused.returncode == 2 and "NAME=VALUE" in refused.stderr


def add_one(x):
    return [v + 1 for v in x["values"]]


def test_a_signature_is_inferred_from_an_example_and_checked_when_strict(db: superlite.Datalayer) -> None:
    model = db.apply(ObjectModel("sig", object=add_one, example={"values": [1, 2]}, strict=True, serve=True))
    signature = db.record("model", "sig").info["signature"]
    assert signature == {
        "input": {"type": "object", "properties": {"values": {"type": "array", "items": {"type": "integer"}}}},
        "output": {"type": "array", "items": {"type": "integer"}},
    }
    assert model.predict({"values": [3]}) == [4]
    with pytest.raises(superlite.errors.InvalidArgumentError, match=r"input: missing key 'values'"):
        model.predict({"vals": [3]})
    with pytest.raises(superlite.errors.InvalidArgumentError, match=r"input\[1\].values\[0\]: expected integer, got string"):
        model.predict_batches([{"values": [1]}, {"values": ["x"]}], chunk_size=2)
    loose = db.apply(ObjectModel("loose", object=add_one, example={"values": [1]}, serve=True))
    with pytest.raises(KeyError):
        loose.predict({"vals": [3]})  # not strict: the model itself fails


def test_a_declared_signature_is_checked_at_apply(db: superlite.Datalayer) -> None:
    with pytest.raises(ArgumentTypeError, match="signature"):
        db.apply(ObjectModel("bad", object=add_one, signature={"input": {"type": "matrix"}}))
    with pytest.raises(ArgumentTypeError, match="strict=True needs a signature"):
        db.apply(ObjectModel("bad", object=add_one, strict=True))
    db.apply(ObjectModel("ok", object=add_one, signature={"input": {"type": "object"}}, strict=True))
    assert db.load("model", "ok", lazy=False).signature == {"input": {"type": "object"}}
