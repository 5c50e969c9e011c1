"""Property-based tests of the public API on every store: random names, versions, uuids,
references, options and inputs.

Each backend gets one Datalayer that lives through all of its examples, so what one example
stores the next one meets. Two invariants hold after every call:

* the call either succeeds or raises a :mod:`superlite.errors` exception (never a driver's
  ``DataError``, an ``AttributeError``, a ``UnicodeEncodeError``...);
* everything stored stays readable: ``show()`` lists it, and ``show``/``load`` of each
  identifier give back exactly the name and the versions that were applied.

The number of examples run per backend is printed (``-s``) and recorded as the test's
``examples`` property.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import superlite
from superlite import ObjectModel
from superlite.common.arguments import MAX_NAME_LENGTH, MAX_VERSION
from superlite.errors import SuperliteError
from superlite.testing.databases import isolated_database

#: Examples per backend: enough to meet every kind of bad value, few enough that the four
#: backends finish in well under a minute on a shared machine.
EXAMPLES = 60


def echo(x: Any) -> Any:
    """The model every example applies: its answer is its input."""
    return x


def first(x: Any) -> Any:
    """A second model, so that applying it again makes a new version."""
    return [x]


@pytest.fixture(params=["sqlite", "postgresql", "mariadb", "mongomock"])
def db(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[superlite.Datalayer]:
    """One Datalayer per backend, shared by all of the test's examples."""
    if request.param == "mongomock":
        pytest.importorskip("superlite_mongodb", reason="the MongoDB plugin (plugins/mongodb) is not installed")
        with superlite.connect(f"mongomock://properties-{uuid.uuid4().hex[:8]}", broker=None) as datalayer:
            yield datalayer
        return
    with isolated_database(request.param, tmp_path) as uri, superlite.connect(uri, broker=None) as datalayer:
        yield datalayer


# -- strategies -----------------------------------------------------------------------------------

#: Names that once broke a store, or that only one store would keep.
TRICKY_NAMES = [
    "", " ", "a ", " a", "a:b", "a@b", "m@1", "a\x00b", "a\x1b[2Jb", "a\nb", "a\rb", "a\u2028b", "\ud800",
    "é", "E\u0301", "😀", "A", "a", "a/b", "../x", "%s", "'; DROP TABLE x; --", "x" * MAX_NAME_LENGTH,
    "x" * (MAX_NAME_LENGTH + 1), "ü" * MAX_NAME_LENGTH,
]

#: Names every store must keep exactly as given.
GOOD_NAMES = ["m", "n", "sentiment", "é", "E\u0301", "😀", "a:b", "A", "a", "a/b", "%s", "'; DROP TABLE x; --",
              "x" * MAX_NAME_LENGTH, "ü" * MAX_NAME_LENGTH]

good_names = st.one_of(
    st.sampled_from(GOOD_NAMES),
    st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S"], exclude_characters="@"), min_size=1, max_size=10),
)
bad_names = st.one_of(
    st.sampled_from(TRICKY_NAMES),
    st.text(alphabet="abAB:@ \t\n\x00", min_size=0, max_size=6),
    st.none(),
    st.integers(),
    st.binary(max_size=4),
)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` three times in four, else ``bad``: enough valid calls for the store to fill up."""
    return st.one_of(good, good, good, bad)


names = mostly(good_names, bad_names)
type_ids = mostly(st.just("model"), bad_names)
versions = mostly(
    st.integers(0, 3),
    st.one_of(st.integers(-2, 4), st.sampled_from([MAX_VERSION, MAX_VERSION + 1, 2**63, -(2**70)]), st.booleans(),
              st.text(max_size=3), st.floats(), st.none()),
)
chunk_sizes = mostly(st.one_of(st.none(), st.integers(1, 3)), st.one_of(st.integers(-1, 0), st.booleans(), st.floats(), st.text(max_size=2)))
uuids = st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), st.text(max_size=40), st.integers(), st.none())
references = st.one_of(
    st.builds(lambda t, i, u: f"&:component:{t}:{i}:{u}", st.text(max_size=8), st.text(max_size=8), uuids.map(str)),
    st.text(max_size=30),
    st.integers(),
    st.none(),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8), st.sampled_from(["\ud800", "\x00"])
)
inputs = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
timeouts = mostly(st.one_of(st.none(), st.floats(1, 60)), st.one_of(st.floats(), st.integers(-1, 0), st.text(max_size=2), st.booleans()))
tags = mostly(
    st.dictionaries(st.text(min_size=1, max_size=4), st.one_of(st.text(max_size=6), st.none()), max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), st.one_of(st.text(max_size=6), st.integers()), max_size=3),
)
aliases = mostly(st.sampled_from(["production", "canary"]), st.one_of(st.sampled_from(["latest", "Prod", "", "a b"]), st.text(max_size=6), st.integers()))


def known(index: int, stored: dict[str, list[int]]) -> str:
    """The ``index``-th stored identifier (modulo their number), or ``"m"`` while none is stored.

    Drawn as an index, so what hypothesis draws never depends on what the store holds.
    """
    names = sorted(stored)
    return names[index % len(names)] if names else "m"


def operations(db: superlite.Datalayer, stored: dict[str, list[int]]) -> st.SearchStrategy[tuple[str, Callable[[], Any]]]:
    """One public call with random arguments, named for the report; ``stored`` is what exists."""
    identifier = mostly(st.one_of(st.integers(0, 9).map(lambda i: known(i, stored)), good_names), bad_names)
    return st.one_of(
        st.tuples(st.just("apply"), names, st.sampled_from([echo, first])).map(
            lambda a: ("apply", lambda: db.apply(ObjectModel(a[1], object=a[2])))
        ),
        st.tuples(type_ids, identifier, versions).map(lambda a: ("load", lambda: db.load(a[0], a[1], version=a[2], lazy=False))),
        st.tuples(type_ids, uuids).map(lambda a: ("load uuid", lambda: db.load(a[0], uuid=a[1]))),
        st.tuples(st.one_of(st.none(), type_ids), st.one_of(st.none(), identifier)).map(lambda a: ("show", lambda: db.show(a[0], a[1]))),
        st.tuples(type_ids, identifier, versions).map(lambda a: ("record", lambda: db.record(a[0], a[1], a[2]))),
        st.tuples(identifier, versions).map(lambda a: ("remove", lambda: db.remove("model", a[0], version=a[1]))),
        st.tuples(identifier, aliases, versions).map(lambda a: ("set_alias", lambda: db.set_alias("model", a[0], a[1], a[2]))),
        st.tuples(identifier, tags).map(lambda a: ("set_tags", lambda: db.set_tags("model", a[0], tags=a[1]))),
        st.tuples(names, inputs, tags).map(
            lambda a: ("apply", lambda: db.apply(ObjectModel(a[0], object=echo, source=a[1], tags=a[2])))
        ),
        st.tuples(references, inputs, timeouts).map(lambda a: ("compute", lambda: db.compute(a[0], "predict", (a[1],), timeout=a[2]))),
        st.tuples(identifier, inputs).map(lambda a: ("predict", lambda: db.load("model", a[0]).predict(a[1]))),
        st.tuples(identifier, st.lists(inputs, max_size=4), chunk_sizes).map(
            lambda a: ("predict_batches", lambda: db.load("model", a[0]).predict_batches(a[1], chunk_size=a[2]))
        ),
        st.tuples(st.one_of(st.integers(-3, 10**20), st.floats(), st.text(max_size=2)), versions).map(
            lambda a: ("changes", lambda: db.changes(a[0], a[1] if a[1] is not None else 10))
        ),
    )


def expect(stored: dict[str, list[int]], name: str, result: Any) -> None:
    """Update what should exist after call ``name`` returned ``result`` (None: it was refused)."""
    if name == "apply" and result is not None:
        versions = stored.setdefault(result.identifier, [])
        if result.version not in versions:
            versions.append(result.version)
    if name == "remove" and result is not None:
        for record in result:
            stored[record.identifier].remove(record.version)
            if not stored[record.identifier]:
                del stored[record.identifier]


def check_everything_readable(db: superlite.Datalayer, stored: dict[str, list[int]]) -> None:
    """What was applied is listed and loads back, exactly as it was applied."""
    listed = db.show()
    assert sorted(listed.get("model", [])) == sorted(stored)
    for name, expected in stored.items():
        assert db.show("model", name) == expected
        loaded = db.load("model", name, lazy=False)
        assert (loaded.identifier, loaded.version) == (name, expected[-1])


def test_public_calls_succeed_or_raise_superlite_errors(db: superlite.Datalayer, record_property: Any) -> None:
    """Random calls on one store: success or a superlite error, and what exists stays readable."""
    stored: dict[str, list[int]] = {}
    examples = {"count": 0, "errors": 0}
    succeeded: Counter[str] = Counter()
    refused: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        examples["count"] += 1
        for _ in range(data.draw(st.integers(1, 4), label="calls")):
            name, call = data.draw(operations(db, stored), label="call")
            try:
                result = call()
                succeeded[name] += 1
            except SuperliteError as exc:
                examples["errors"] += 1
                refused[f"{name}: {type(exc).__name__}"] += 1
                result = None
            except Exception as exc:  # the property: nothing else may reach a user
                raise AssertionError(f"{name} raised {type(exc).__qualname__}, not a superlite error: {exc}") from exc
            expect(stored, name, result)
            check_everything_readable(db, stored)

    run()
    print(f"\n{db!r}: {examples['count']} examples, {examples['errors']} calls refused with superlite errors, "
          f"succeeded: {dict(sorted(succeeded.items()))}, refused: {dict(sorted(refused.items()))}")
    record_property("examples", examples["count"])
    assert examples["count"] >= EXAMPLES // 2
