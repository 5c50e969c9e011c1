"""TorchModel stored in and loaded from every database: SQL, and GridFS when its plugin is installed."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
import textwrap
import warnings

import pytest
import sqlalchemy as sa
import torch
from superlite_torch import DillFallbackWarning, TorchModel
from torch import nn
from torch_test_nets import MLP, Opaque, Tied, WithExtraState

import superlite
from superlite import RemoteModel
from superlite.errors import IntegrityError, SerializationError, StoredClassImportError
from superlite.serialization.hashing import sha256_hex
from superlite.stores.base import ArtifactRef
from superlite.stores.sql.schema import artifact_chunks, artifacts


def inputs(n: int = 5, width: int = 4) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(width, generator=generator) for _ in range(n)]


def test_round_trip_gives_identical_outputs(db):
    torch.manual_seed(0)
    model = db.apply(TorchModel("mlp", object=MLP(4, 16, 3), batch_size=2))
    record = db.record("model", "mlp")
    assert record.params["module_class"] == "torch_test_nets:MLP"
    assert record.params["module_args"] == {"n_in": 4, "n_hidden": 16, "n_out": 3, "dropout": 0.0}
    assert [(a.name, a.serializer) for a in record.artifacts] == [("object", "torch_state_dict")]

    loaded = db.load("model", "mlp", lazy=False)
    assert isinstance(loaded, TorchModel) and loaded.batch_size == 2 and not loaded.object.training
    xs = inputs()
    assert all(torch.equal(a, b) for a, b in zip(loaded.predict_batches(xs), model.predict_batches(xs)))
    proxy = db.load("model", "mlp")
    assert isinstance(proxy, RemoteModel)
    assert torch.equal(proxy.predict(xs[0]), model.predict(xs[0]))


def test_versions_follow_the_weights(db):
    net = nn.Linear(4, 2)
    arguments = {"in_features": 4, "out_features": 2}
    first = db.apply(TorchModel("lin", object=net, module_args=arguments))
    again = db.apply(TorchModel("lin", object=net, module_args=arguments))
    assert again.version == first.version == 0
    with torch.no_grad():
        net.weight += 1
    assert db.apply(TorchModel("lin", object=net, module_args=arguments)).version == 1
    old = db.load("model", "lin", version=0, lazy=False).object
    assert not torch.equal(old.weight, net.weight)


def test_tied_weights_half_precision_and_extra_state_survive(db):
    tied = db.apply(TorchModel("tied", object=Tied(10, 4).half()))
    loaded = db.load("model", "tied", lazy=False).object
    assert loaded.decode.weight is loaded.embed.weight and loaded.embed.weight.dtype == torch.float16
    tokens = torch.tensor([1, 5])
    assert torch.equal(db.load("model", "tied").predict(tokens), tied.predict(tokens))

    db.apply(TorchModel("extra", object=WithExtraState()))
    assert db.load("model", "extra", lazy=False).object.extra == {"vocab": ["a", "b"], "version": 3}


def test_preprocess_and_postprocess_are_stored_with_dill(db):
    offset = 3.0
    db.apply(
        TorchModel(
            "mlp",
            object=MLP(4, 8, 3),
            preprocess=lambda x: [v + offset for v in x],
            postprocess=lambda logits: int(logits.argmax()),
        )
    )
    record = db.record("model", "mlp")
    assert {a.name: a.serializer for a in record.artifacts} == {"object": "torch_state_dict", "preprocess": "dill", "postprocess": "dill"}
    loaded = db.load("model", "mlp", lazy=False)
    assert loaded.predict([0.0, 1.0, 2.0, 3.0]) == TorchModel("m", object=loaded.object).predict(torch.tensor([3.0, 4, 5, 6])).argmax().item()


def test_applying_what_could_not_be_loaded_back_fails_and_stores_nothing(db):
    with pytest.raises(SerializationError, match=r"width are not kept.*module_args"):
        db.apply(TorchModel("opaque", object=Opaque(4)))
    with pytest.raises(SerializationError, match="does not rebuild this module"):
        db.apply(TorchModel("opaque", object=Opaque(4), module_args={"width": 5}))
    with pytest.raises(SerializationError, match="holds a Vocabulary"):
        db.apply(TorchModel("extra", object=WithExtraState(opaque=True)))
    assert db.show("model") == []
    db.apply(TorchModel("opaque", object=Opaque(4), module_args={"width": 4}))
    assert db.show("model") == ["opaque"]


def write_module(directory, name: str, class_name: str) -> None:
    (directory / f"{name}.py").write_text(
        textwrap.dedent(
            f"""
            from torch import nn

            class {class_name}(nn.Module):
                def __init__(self, width):
                    super().__init__()
                    self.width = width
                    self.linear = nn.Linear(width, 1)

                def forward(self, x):
                    return self.linear(x)
            """
        )
    )
    importlib.invalidate_caches()
    sys.modules.pop(name, None)


@pytest.mark.parametrize("change", ["moved", "renamed"])
def test_a_moved_or_renamed_module_class_is_a_clear_import_error(db, tmp_path, monkeypatch, change):
    module_name = f"user_nets_{change}"
    monkeypatch.syspath_prepend(str(tmp_path))
    write_module(tmp_path, module_name, "Scorer")
    scorer = importlib.import_module(module_name).Scorer(3)
    db.apply(TorchModel("scorer", object=scorer))
    assert db.record("model", "scorer").params["module_class"] == f"{module_name}:Scorer"

    if change == "moved":
        (tmp_path / f"{module_name}.py").unlink()
        sys.modules.pop(module_name)
        importlib.invalidate_caches()
    else:
        write_module(tmp_path, module_name, "RenamedScorer")
    with pytest.raises(StoredClassImportError, match=f"cannot import class '{module_name}:Scorer'") as info:
        db.load("model", "scorer", lazy=False)
    assert info.value.class_path == f"{module_name}:Scorer"
    with pytest.raises(StoredClassImportError):
        db.load("model", "scorer").predict(torch.zeros(3))


def test_reapplying_a_loaded_model_records_where_its_class_lives_now(db, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    write_module(tmp_path, "old_home", "Scorer")
    db.apply(TorchModel("scorer", object=importlib.import_module("old_home").Scorer(3)))
    assert db.apply(db.load("model", "scorer", lazy=False)).version == 0  # unchanged: no new version

    write_module(tmp_path, "new_home", "Scorer")
    (tmp_path / "old_home.py").write_text("from new_home import Scorer\n")  # an alias while moving
    sys.modules.pop("old_home")
    importlib.invalidate_caches()
    moved = db.apply(db.load("model", "scorer", lazy=False))
    assert moved.version == 1
    assert db.record("model", "scorer").params["module_class"] == "new_home:Scorer"


def test_tampered_artifact_smuggling_code_is_refused_and_runs_nothing(db, tmp_path):
    db.apply(TorchModel("lin", object=nn.Linear(2, 1), module_args={"in_features": 2, "out_features": 1}))
    honest = db.record("model", "lin")
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    evil = _torch_save_bytes({"weight": torch.zeros(1, 2), "bias": torch.zeros(1), "x": Payload()})
    sha256 = sha256_hex(evil)
    db.artifacts.put(sha256, [evil], len(evil))  # an attacker with write access to the stores
    forged = dataclasses.replace(
        honest,
        uuid="forged-" + honest.uuid[7:],
        version=honest.version + 1,
        artifacts=(ArtifactRef("object", sha256, len(evil), "torch_state_dict"),),
    )
    db.metadata.insert(forged)

    with pytest.raises(SerializationError, match=r"refused to load the stored state_dict.*Nothing from it was executed"):
        db.load("model", "lin", lazy=False)
    assert not marker.exists()


def test_bytes_changed_in_the_store_raise_integrity_error(db_uri):
    with superlite.connect(db_uri) as db:
        db.apply(TorchModel("lin", object=nn.Linear(2, 1), module_args={"in_features": 2, "out_features": 1}))
        digest = db.record("model", "lin").artifacts[0].digest
        engine = sa.create_engine(db_uri)
        with engine.begin() as connection:
            key = connection.scalar(sa.select(artifacts.c.chunks_key).where(artifacts.c.sha256 == digest))
            chunk = (artifact_chunks.c.sha256 == key) & (artifact_chunks.c.seq == 0)
            data = connection.scalar(sa.select(artifact_chunks.c.data).where(chunk))
            connection.execute(artifact_chunks.update().where(chunk).values(data=bytes(data[:-1]) + bytes([data[-1] ^ 1])))
        engine.dispose()
        with pytest.raises(IntegrityError, match=f"expected {digest}"):
            db.load("model", "lin", lazy=False)


MAIN_SCRIPT = textwrap.dedent(
    """
    import sys, warnings
    import torch
    from torch import nn
    import superlite
    from superlite_torch import TorchModel

    class Doubler(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.width = width
            self.scale = nn.Parameter(torch.full((width,), 2.0))

        def forward(self, x):
            return x * self.scale

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with superlite.connect(sys.argv[1]) as db:
            db.apply(TorchModel("doubler", object=Doubler(3)))
    print([w.category.__name__ for w in caught])
    """
)


def test_a_class_defined_in_main_is_stored_with_dill_and_a_warning(db_uri, tmp_path):
    script = tmp_path / "define_model.py"
    script.write_text(MAIN_SCRIPT)
    result = subprocess.run([sys.executable, str(script), db_uri], check=True, capture_output=True, text=True, timeout=120)
    assert "DillFallbackWarning" in result.stdout
    with superlite.connect(db_uri) as db:
        record = db.record("model", "doubler")
        assert record.params["module_class"] == "__main__:Doubler"
        assert {a.name: a.serializer for a in record.artifacts} == {"object": "torch_state_dict", "module_code": "dill"}
        assert db.load("model", "doubler").predict(torch.ones(3)).tolist() == [2.0, 2.0, 2.0]


def test_the_dill_fallback_warns_in_process(db):
    class Local(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 2)

        def forward(self, x):
            return self.linear(x)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        db.apply(TorchModel("local", object=Local()))
    assert any(issubclass(w.category, DillFallbackWarning) and "no import path" in str(w.message) for w in caught)
    x = torch.ones(2)
    assert torch.equal(db.load("model", "local").predict(x), db.load("model", "local", lazy=False).object.eval()(x[None])[0].detach())


def _torch_save_bytes(obj: object) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()
