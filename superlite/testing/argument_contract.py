"""Arguments checked before any store sees them, with the same answer on every backend.

Versions, chunk sizes, identifiers, uuids and references. A backend subclasses :class:`ArgumentContract` and provides a ``db`` fixture (a Datalayer on an
empty database of that backend). MySQL/MariaDB once cast ``"all"`` to version 0 and ``"2 "`` to
version 2, and PostgreSQL raised its own ``ProgrammingError``; MongoDB stored ``None`` and ``5``
as identifiers, after which ``show()`` failed: none of that may reach a user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from superlite.common.arguments import MAX_NAME_LENGTH, MAX_VERSION
from superlite.components.object_model import ObjectModel
from superlite.errors import ArgumentTypeError, ConfigurationError, InvalidArgumentError, NotFoundError, SuperliteError

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer

#: Versions of the wrong type, each refused with a TypeError.
WRONG_TYPES: list[Any] = ["all", "2 ", "latest", "0", True, False, 1.0, b"1", [0]]

#: Identifiers refused at apply and at every lookup: (name, error class, words of the message).
REFUSED_NAMES = [
    ("", InvalidArgumentError, "must not be empty"),
    ("a\x00b", InvalidArgumentError, "printable"),
    ("a\x1b[2Jb", InvalidArgumentError, "printable"),
    ("a\nb", InvalidArgumentError, "printable"),
    ("a\u2028b", InvalidArgumentError, "printable"),
    ("\ud800", InvalidArgumentError, "printable"),
    (" a", InvalidArgumentError, "whitespace"),
    ("a ", InvalidArgumentError, "whitespace"),
    ("a@b", InvalidArgumentError, "'@'"),
    ("x" * (MAX_NAME_LENGTH + 1), InvalidArgumentError, f"at most {MAX_NAME_LENGTH} characters"),
    (None, ArgumentTypeError, "must be a str, not None"),
    (5, ArgumentTypeError, "must be a str, not 5"),
    (b"m", ArgumentTypeError, "must be a str"),
]

#: Versions of the right type but out of range, each refused with a ValueError.
OUT_OF_RANGE = [-1, MAX_VERSION + 1, 2**63, -(2**70), 2**80]


def double(x: Any) -> Any:
    """A model to apply."""
    return 2 * x


def triple(x: Any) -> Any:
    """Another version of it."""
    return 3 * x


class ArgumentContract:
    """Bad versions, chunk sizes, names and uuids are refused by name and value, and change nothing.

    Needs a ``db`` fixture: a Datalayer on an empty database of the backend under test.
    """

    @pytest.fixture
    def versions(self, db: Datalayer) -> Datalayer:
        """``db`` holding model ``m`` in versions 0, 1 and 2."""
        for function in (double, triple, double):
            db.apply(ObjectModel("m", object=function))
        return db

    @pytest.mark.parametrize("version", WRONG_TYPES, ids=repr)
    def test_version_of_wrong_type_is_refused(self, versions: Datalayer, version: Any) -> None:
        """remove, load and record refuse a non-int version with a TypeError naming it, removing nothing."""
        for call in (
            lambda: versions.remove("model", "m", version=version),
            lambda: versions.load("model", "m", version=version, lazy=False),
            lambda: versions.record("model", "m", version=version),
        ):
            with pytest.raises(ArgumentTypeError, match=rf"version must be an int .*not {_quoted(version)}") as info:
                call()
            assert isinstance(info.value, TypeError)
        assert versions.show("model", "m") == [0, 1, 2]

    @pytest.mark.parametrize("version", OUT_OF_RANGE)
    def test_version_out_of_range_is_refused(self, versions: Datalayer, version: int) -> None:
        """Negative and beyond-64-bit versions are a ValueError naming the version, removing nothing."""
        for call in (
            lambda: versions.remove("model", "m", version=version),
            lambda: versions.load("model", "m", version=version, lazy=False),
            lambda: versions.record("model", "m", version=version),
        ):
            with pytest.raises(InvalidArgumentError, match=rf"version must be an int .*not {version}") as info:
                call()
            assert isinstance(info.value, ValueError)
        assert versions.show("model", "m") == [0, 1, 2]

    def test_version_in_the_name_is_checked_too(self, versions: Datalayer) -> None:
        """``name@<digits>`` out of range is refused like the keyword."""
        with pytest.raises(InvalidArgumentError, match="version must be an int"):
            versions.load("model", f"m@{2**64}")
        assert versions.load("model", "m@1", lazy=False).predict(1) == 3

    def test_latest_is_the_default_or_the_name_suffix(self, versions: Datalayer) -> None:
        """The latest version is asked for by leaving version out, or with ``name@latest``."""
        assert versions.load("model", "m", lazy=False).version == 2
        assert versions.load("model", "m@latest").version == 2

    def test_valid_versions_still_work(self, versions: Datalayer) -> None:
        """A real version removes exactly that one; a missing one is NotFoundError."""
        assert [r.version for r in versions.remove("model", "m", version=1)] == [1]
        assert versions.show("model", "m") == [0, 2]
        with pytest.raises(NotFoundError):
            versions.load("model", "m", version=MAX_VERSION)

    @pytest.mark.parametrize("chunk_size", [0, -1, True, 1.5, "2"], ids=repr)
    def test_chunk_size_must_be_a_positive_int(self, db: Datalayer, chunk_size: Any) -> None:
        """predict_batches refuses a bad chunk_size on a loaded proxy and on a detached one."""
        model = db.apply(ObjectModel("m", object=double, serve=True))
        error = InvalidArgumentError if isinstance(chunk_size, int) and not isinstance(chunk_size, bool) else ArgumentTypeError
        detached = ObjectModel("d", object=double, serve=True)
        for call in (
            lambda: model.predict_batches([1, 2, 3], chunk_size=chunk_size),
            lambda: db.load("model", "m").predict_batches([1, 2, 3], chunk_size=chunk_size),
            lambda: detached.predict_batches([1, 2, 3], chunk_size=chunk_size),
        ):
            with pytest.raises(error, match=rf"chunk_size must be a positive int, not {_quoted(chunk_size)}"):
                call()
        assert model.predict_batches([1, 2, 3], chunk_size=2) == [2, 4, 6]


    @pytest.mark.parametrize(("name", "error", "message"), REFUSED_NAMES, ids=repr)
    def test_bad_identifiers_are_refused_at_apply_and_at_lookup(self, db: Datalayer, name, error, message) -> None:
        """Every store gets the same answer, before anything is stored; TypeError/ValueError by kind."""
        model = ObjectModel("m", object=double)
        model.identifier = name
        with pytest.raises(error, match=message) as info:
            db.apply(model)
        assert isinstance(info.value, TypeError if error is ArgumentTypeError else ValueError)
        assert model.version is None and model.uuid is None
        lookups = [lambda: db.remove("model", name), lambda: db.set_alias("model", name, "production", 0)]
        if name is not None:  # show("model", None) lists the identifiers
            lookups.append(lambda: db.show("model", name))
        for call in lookups:
            with pytest.raises(error, match=message):
                call()
        assert db.show() == {}


    @pytest.mark.parametrize("name", ["é", "E\u0301", "😀", "a:b", "A", "a/b", "'; DROP TABLE x; --", "ü" * MAX_NAME_LENGTH])
    def test_unusual_but_valid_identifiers_round_trip_exactly(self, db: Datalayer, name: str) -> None:
        """What a store could silently change (case, accents, length in bytes) comes back as given."""
        db.apply(ObjectModel(name, object=double))
        db.apply(ObjectModel(name.swapcase() if name.swapcase() != name else name + "2", object=double))
        assert name in db.show("model")
        assert db.load("model", name, lazy=False).identifier == name
        reference = db.load("model", name).reference
        assert db.compute(reference, "predict", (2,)) == 4


    def test_uuids_and_references_are_checked(self, db: Datalayer) -> None:
        """A uuid in any spelling finds its version; a malformed one or a bad target is refused by name."""
        model = db.apply(ObjectModel("m", object=double))
        assert db.load("model", uuid=model.uuid.upper(), lazy=False).uuid == model.uuid
        with pytest.raises(InvalidArgumentError, match="reference uuid must be a UUID"):
            db.compute("&:component:model:m:0000", "predict", (1,))
        with pytest.raises(InvalidArgumentError, match="reference identifier must be printable"):
            db.compute(f"&:component:model:a\x1bb:{model.uuid}", "predict", (1,))
        with pytest.raises(ConfigurationError, match="is not a component reference"):
            db.compute(f"&:component:model::{model.uuid}", "predict", (1,))
        with pytest.raises(ArgumentTypeError, match="target must be a reference string"):
            db.compute(5, "predict", (1,))
        with pytest.raises(ArgumentTypeError, match="method must be the name of a method"):
            db.compute(model.reference, 5, (1,))
        with pytest.raises(InvalidArgumentError, match="timeout must be a finite number"):
            db.compute(model.reference, "predict", (1,), timeout=-1)
        with pytest.raises(ArgumentTypeError, match="found by identifier or by uuid"):
            db.load("model")


    def test_values_no_store_can_hold_are_refused_everywhere(self, db: Datalayer) -> None:
        """Lone surrogates and ints beyond 64 bits are refused before a store sees them, as on MongoDB."""
        db.apply(ObjectModel("m", object=double))
        with pytest.raises(SuperliteError, match="lone surrogate"):
            db.set_tags("model", "m", tags={"a": "\ud800"})
        with pytest.raises(SuperliteError, match="outside the signed 64-bit range"):
            db.apply(ObjectModel("m", object=double, source={"n": 2**64}))
        assert db.show("model", "m") == [0]


def _quoted(value: object) -> str:
    import re

    return re.escape(repr(value))
