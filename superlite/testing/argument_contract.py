"""Arguments checked before any store sees them, with the same answer on every backend.

A backend subclasses :class:`ArgumentContract` and provides a ``db`` fixture (a Datalayer on an
empty database of that backend). MySQL/MariaDB once cast ``"all"`` to version 0 and ``"2 "`` to
version 2, and PostgreSQL raised its own ``ProgrammingError``: none of that may reach a user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from superlite.common.arguments import MAX_VERSION
from superlite.components.object_model import ObjectModel
from superlite.errors import ArgumentTypeError, InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer

#: Versions of the wrong type, each refused with a TypeError.
WRONG_TYPES: list[Any] = ["all", "2 ", "latest", "0", True, False, 1.0, b"1", [0]]

#: Versions of the right type but out of range, each refused with a ValueError.
OUT_OF_RANGE = [-1, MAX_VERSION + 1, 2**63, -(2**70), 2**80]


def double(x: Any) -> Any:
    """A model to apply."""
    return 2 * x


def triple(x: Any) -> Any:
    """Another version of it."""
    return 3 * x


class ArgumentContract:
    """Bad versions and chunk sizes are refused by name and value, and change nothing.

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


def _quoted(value: object) -> str:
    import re

    return re.escape(repr(value))
