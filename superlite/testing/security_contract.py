"""What a record may make a process do, checked on each backend (see ``docs/security.md``).

Every attack here is made as someone with write access to the database would make it: records
and artifact bytes written straight through the stores, never through ``apply``. A backend
(built in or a plugin) subclasses :class:`SecurityContract` and provides ``fresh_uri``, the URI
of an empty database of its own::

    class TestMySecurity(SecurityContract):
        @pytest.fixture
        def fresh_uri(self):
            ...

The class's name does not start with ``Test``, so pytest collects only the subclasses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import uuid as uuid_module
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dill
import pytest

import superlite
from superlite import ObjectModel
from superlite.datalayer import Datalayer
from superlite.errors import IntegrityError, SignatureError, UntrustedClassError
from superlite.security import SIGNATURE_FIELD, generate_key
from superlite.stores.base import ArtifactRef, ComponentRecord

#: Two HMAC keys, as ``superlite keygen`` prints them.
KEY_A = "hmac:" + "a" * 32
KEY_B = "hmac:" + "b" * 32

#: A module the standard library has, that nothing in superlite imports: proof nothing was imported.
UNIMPORTED_MODULE = "this"


class _Payload:
    """Unpickling this runs a shell command: what a forged dill artifact can do."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.command,)


def _increment(x: int) -> int:
    return x + 1


class SecurityContract:
    """Records written by someone with database write access cannot run code on a loader."""

    @pytest.fixture
    def fresh_uri(self) -> Iterator[str]:
        """The URI of an empty database (each backend's test module overrides this)."""
        raise NotImplementedError("a SecurityContract subclass provides the fresh_uri fixture")

    @contextmanager
    def open(self, uri: str, **options: object) -> Iterator[Datalayer]:
        """A Datalayer with in-process compute and these security options."""
        with superlite.connect(uri, broker=None, **options) as db:
            yield db

    @staticmethod
    def forge(db: Datalayer, record: ComponentRecord, **changes: object) -> ComponentRecord:
        """Replace ``record`` in the metadata store by a changed copy with the same uuid and version."""
        forged = dataclasses.replace(record, **changes)
        db.metadata.delete([record.uuid])
        db.metadata.insert(forged)
        return forged

    @staticmethod
    def plant(db: Datalayer, identifier: str, class_path: str, **fields: object) -> ComponentRecord:
        """Insert a new record straight into the metadata store, as an attacker would."""
        record = ComponentRecord(
            uuid=str(uuid_module.uuid4()), type_id="model", identifier=identifier, version=0,
            class_path=class_path, params={}, content_hash=hashlib.sha256(identifier.encode()).hexdigest(), **fields,
        )
        db.metadata.insert(record)
        return record

    # -- stored class paths ------------------------------------------------------------------------

    def test_a_record_naming_os_system_is_refused(self, fresh_uri: str, tmp_path: Path) -> None:
        marker = tmp_path / "pwned"
        with self.open(fresh_uri) as db:
            record = self.plant(db, f"touch {marker}", "os:system")
            with pytest.raises(UntrustedClassError, match=r"'os:system' names builtin_function_or_method .* not a subclass of Component"):
                db.load("model", uuid=record.uuid, lazy=False)
            with pytest.raises(UntrustedClassError):
                db.compute(f"&:component:model:{record.identifier}:{record.uuid}", "predict", (1,))
        assert not marker.exists()

    def test_a_class_that_is_not_a_component_is_refused(self, fresh_uri: str) -> None:
        with self.open(fresh_uri) as db:
            record = self.plant(db, "dict", "collections:OrderedDict")
            with pytest.raises(UntrustedClassError, match="'collections:OrderedDict' names type"):
                db.load("model", uuid=record.uuid, lazy=False)

    def test_allowed_modules_refuse_others_before_importing_them(self, fresh_uri: str) -> None:
        assert UNIMPORTED_MODULE not in sys.modules
        with self.open(fresh_uri, allowed_modules=["my_models"]) as db:
            model = db.apply(ObjectModel("inc", object=_increment))
            assert db.load("model", "inc").predict(1) == 2, "superlite's own classes are always allowed"
            record = self.plant(db, "outside", f"{UNIMPORTED_MODULE}:Model")
            with pytest.raises(UntrustedClassError, match=r"module 'this', outside allowed_modules \(superlite, my_models\)"):
                db.load("model", uuid=record.uuid, lazy=False)
            assert model.version == 0
        assert UNIMPORTED_MODULE not in sys.modules

    # -- signing -------------------------------------------------------------------------------

    def test_signed_records_load_and_carry_their_signature(self, fresh_uri: str) -> None:
        with self.open(fresh_uri, signing_key=KEY_A, require_signatures=True) as db:
            db.apply(ObjectModel("inc", object=_increment, tags={"stage": "dev"}))
            db.set_tags("model", "inc", tags={"stage": "prod"})
            assert db.record("model", "inc").info[SIGNATURE_FIELD]["key"].startswith("hmac-sha256:")
            assert db.load("model", "inc").predict(1) == 2, "tags may change after signing"

    def test_an_unsigned_record_is_refused_when_signatures_are_required(self, fresh_uri: str) -> None:
        with self.open(fresh_uri) as db:
            db.apply(ObjectModel("inc", object=_increment))
        with self.open(fresh_uri, signing_key=KEY_A, require_signatures=True) as db:
            with pytest.raises(SignatureError, match=r"model 'inc' version 0 .* is not signed and signatures are required"):
                db.load("model", "inc").predict(1)
        with self.open(fresh_uri, signing_key=KEY_A) as db:
            assert db.load("model", "inc").predict(1) == 2, "without require_signatures an unsigned record loads"

    def test_a_record_signed_with_another_key_is_refused(self, fresh_uri: str) -> None:
        with self.open(fresh_uri, signing_key=KEY_A) as db:
            db.apply(ObjectModel("inc", object=_increment))
        with self.open(fresh_uri, signing_key=KEY_B) as db:
            with pytest.raises(SignatureError, match="is signed by key hmac-sha256:[0-9a-f]{16}, which is not one of"):
                db.load("model", "inc", lazy=False)

    @pytest.mark.parametrize(
        "change",
        [
            {"class_path": f"{UNIMPORTED_MODULE}:Model"},
            {"params": {"batch_size": 1}},
            {"identifier": "other"},
            {"info": {"description": "changed"}},
        ],
        ids=["class_path", "params", "identifier", "info"],
    )
    def test_a_tampered_record_is_refused_before_any_import(self, fresh_uri: str, change: dict[str, object]) -> None:
        with self.open(fresh_uri, signing_key=KEY_A, require_signatures=True) as db:
            record = db.record("model", db.apply(ObjectModel("inc", object=_increment)).identifier)
            if "info" in change:
                change = {"info": {**record.info, **change["info"]}}  # type: ignore[dict-item]
            forged = self.forge(db, record, **change)
            with pytest.raises(SignatureError, match="does not verify .* changed after it was signed"):
                db.load("model", uuid=forged.uuid, lazy=False)
        assert UNIMPORTED_MODULE not in sys.modules

    def test_a_swapped_artifact_is_refused_before_it_is_unpickled(self, fresh_uri: str, tmp_path: Path) -> None:
        marker = tmp_path / "pwned"
        payload = dill.dumps(_Payload(f"touch {marker}"))
        sha256 = hashlib.sha256(payload).hexdigest()
        with self.open(fresh_uri, signing_key=KEY_A, require_signatures=True) as db:
            record = db.record("model", db.apply(ObjectModel("inc", object=_increment)).identifier)
            db.registry.artifacts.put(sha256, [payload], len(payload))
            self.forge(db, record, artifacts=(ArtifactRef("object", sha256, len(payload), "dill"),))
            with pytest.raises(SignatureError, match="does not verify"):
                db.load("model", "inc").predict(1)
        assert not marker.exists()

    def test_artifact_bytes_replaced_under_a_signed_digest_are_never_unpickled(self, fresh_uri: str, tmp_path: Path) -> None:
        marker = tmp_path / "pwned"
        payload = dill.dumps(_Payload(f"touch {marker}"))
        with self.open(fresh_uri, signing_key=KEY_A, require_signatures=True) as db:
            record = db.record("model", db.apply(ObjectModel("inc", object=_increment)).identifier)
            (ref,) = record.artifacts
            assert db.registry.artifacts.delete(ref.digest)
            db.registry.artifacts.put(ref.digest, [payload], len(payload))
            with pytest.raises(IntegrityError, match=f"is corrupt: expected {ref.digest}"):
                db.load("model", "inc").predict(1)
        assert not marker.exists()

    def test_a_signature_is_checked_whenever_a_key_is_configured(self, fresh_uri: str) -> None:
        with self.open(fresh_uri, signing_key=KEY_A) as db:
            record = db.record("model", db.apply(ObjectModel("inc", object=_increment)).identifier)
            forged = self.forge(db, record, params={"batch_size": 2})
        with self.open(fresh_uri, verify_keys=[KEY_A]) as db:
            with pytest.raises(SignatureError, match="does not verify"):
                db.load("model", uuid=forged.uuid, lazy=False)

    def test_key_rotation(self, fresh_uri: str) -> None:
        with self.open(fresh_uri, signing_key=KEY_A, require_signatures=True) as db:
            db.apply(ObjectModel("inc", object=_increment))
        with self.open(fresh_uri, signing_key=KEY_B, verify_keys=[KEY_A], require_signatures=True) as db:
            assert db.load("model", "inc", lazy=False).predict(1) == 2, "old records verify with the old key"
            db.apply(ObjectModel("double", object=lambda x: 2 * x))
            report = db.sign_records()
            assert (report["signed"], report["kept"]) == (["model inc v0"], ["model double v0"])
        with self.open(fresh_uri, signing_key=KEY_B, require_signatures=True) as db:
            assert db.load("model", "inc", lazy=False).predict(1) == 2, "the old key is no longer needed"
        with self.open(fresh_uri, verify_keys=[KEY_A], require_signatures=True) as db:
            with pytest.raises(SignatureError, match="not one of the accepted keys"):
                db.load("model", "inc", lazy=False)

    def test_signing_unsigned_records_on_request(self, fresh_uri: str) -> None:
        with self.open(fresh_uri) as db:
            db.apply(ObjectModel("inc", object=_increment))
        with self.open(fresh_uri, signing_key=KEY_A, require_signatures=True) as db:
            assert db.sign_records()["unsigned"] == ["model inc v0"]
            assert db.sign_records(unsigned=True)["signed"] == ["model inc v0"]
            assert db.load("model", "inc").predict(1) == 2

    def test_ed25519_workers_verify_with_the_public_key_only(self, fresh_uri: str) -> None:
        private, public = generate_key("ed25519")
        with self.open(fresh_uri, signing_key=private, require_signatures=True) as db:
            record = db.record("model", db.apply(ObjectModel("inc", object=_increment)).identifier)
            assert record.info[SIGNATURE_FIELD]["key"].startswith("ed25519:")
        with self.open(fresh_uri, verify_keys=[public], require_signatures=True) as db:
            assert db.load("model", "inc").predict(1) == 2
            self.forge(db, record, params={"batch_size": 3})
            with pytest.raises(SignatureError, match="does not verify"):
                db.load("model", "inc", lazy=False)

