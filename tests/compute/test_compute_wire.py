"""The broker codec: round trips, refusals, the extension hook and the kombu registration."""

from __future__ import annotations

import json
import sys
from collections import OrderedDict, namedtuple
from pathlib import Path

import numpy as np
import pytest
from kombu import serialization

from superlite.errors import SerializationError
from superlite.extensions import invalidate_caches
from superlite.serialization.wire import (
    CONTENT_TYPE,
    SERIALIZER,
    PreEncoded,
    WireCodec,
    WireType,
    register_kombu_serializer,
)

Point = namedtuple("Point", "x y")


class Celsius:
    def __init__(self, degrees: float) -> None:
        self.degrees = degrees

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Celsius) and other.degrees == self.degrees


CELSIUS = WireType(tag="test.celsius", types=(Celsius,), encode=lambda c: (c.degrees, b"C"), decode=lambda v: Celsius(v[0]))


@pytest.fixture
def codec() -> WireCodec:
    return WireCodec(use_entry_points=False)


@pytest.mark.parametrize(
    "value",
    [
        None, True, 0, -(2**70), 1.25, "héllo", [], {}, [1, [2, [3]]],
        b"", b"\x00\xff" * 100, (1, (2, (3,))), (), {"a": {"b": (b"c",)}},
        {1: "int key", (1, 2): "tuple key", b"k": "bytes key", None: 0},
        {"__sl__": "a user key that looks like a tag"},
        {"v": [{"__sl__": "tuple", "v": [1]}]},
    ],
)
def test_python_values_round_trip(codec: WireCodec, value: object) -> None:
    decoded = codec.loads(codec.dumps(value))
    assert decoded == value
    assert type(decoded) is type(value)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype="<f8").reshape(2, 3, 4),
        np.arange(6, dtype=">i2").reshape(2, 3).T,  # big-endian, not C-contiguous
        np.zeros((0, 5), dtype=np.float32),
        np.array(3.5),
        np.array([True, False]),
        np.array(["ab", "c"]),
        np.array([1 + 2j], dtype=np.complex64),
        np.array(["2024-01-01"], dtype="datetime64[ns]"),
        np.arange(10)[::3],
    ],
    ids=["f8-3d", "i2-be-transposed", "empty", "0d", "bool", "unicode", "complex", "datetime", "strided"],
)
def test_numpy_arrays_round_trip_exactly_without_pickle(codec: WireCodec, array: np.ndarray) -> None:
    text = codec.dumps({"x": array})
    decoded = codec.loads(text)["x"]
    assert decoded.dtype == array.dtype
    assert decoded.shape == array.shape
    np.testing.assert_array_equal(decoded, array)
    assert decoded.flags.writeable
    assert "pickle" not in text


def test_numpy_scalars_keep_their_dtype(codec: WireCodec) -> None:
    for scalar in (np.int64(-3), np.float32(0.1), np.uint8(255), np.bool_(True)):
        decoded = codec.loads(codec.dumps(scalar))
        assert type(decoded) is type(scalar) and decoded == scalar


def test_subclasses_travel_as_their_base_type(codec: WireCodec) -> None:
    value = [OrderedDict(a=1), Point(1, 2), np.float64(0.5), memoryview(b"mv"), bytearray(b"ba")]
    assert codec.loads(codec.dumps(value)) == [{"a": 1}, (1, 2), 0.5, b"mv", b"ba"]


@pytest.mark.parametrize(
    ("value", "type_name", "where"),
    [
        (object(), "object", "the value itself"),
        ({"scores": [1, {2, 3}]}, "set", "['scores'][1]"),
        ((1, 2, Celsius(3)), "test_compute_wire.Celsius", "[2]"),
        (np.array([1, "a", None], dtype=object), "numpy.ndarray", "the value itself"),
        (np.zeros(2, dtype=[("a", "i4")]), "numpy.ndarray", "the value itself"),
    ],
)
def test_unsupported_types_are_refused_by_name_and_position(codec: WireCodec, value: object, type_name: str, where: str) -> None:
    with pytest.raises(SerializationError) as caught:
        codec.dumps(value)
    message = str(caught.value)
    assert f"cannot send a value of type {type_name}" in message
    assert f"(at {where})" in message


def test_object_dtype_is_refused_on_decode_too(codec: WireCodec) -> None:
    forged = json.dumps({"__sl__": "ndarray", "dtype": "|O", "shape": [1], "v": ""})
    with pytest.raises(SerializationError, match="object dtype"):
        codec.loads(forged)


def test_unknown_tag_names_the_missing_plugin(codec: WireCodec) -> None:
    with pytest.raises(SerializationError, match="'test.celsius'.*install the plugin"):
        codec.loads(WireCodec([CELSIUS], use_entry_points=False).dumps(Celsius(1)))


def test_extra_wire_types_round_trip_nested(codec: WireCodec) -> None:
    with_celsius = WireCodec([CELSIUS], use_entry_points=False)
    value = {"today": [Celsius(21.5), (Celsius(-3), b"x")]}
    assert with_celsius.loads(with_celsius.dumps(value)) == value


def test_string_types_match_only_once_their_module_is_imported() -> None:
    lazy = WireType(tag="test.lazy", types=("not_imported_anywhere:Thing", f"{__name__}:Celsius"), encode=lambda c: c.degrees, decode=Celsius)
    assert lazy.resolved_types() == (Celsius,)
    assert "not_imported_anywhere" not in sys.modules
    assert WireCodec([lazy], use_entry_points=False).loads(WireCodec([lazy], use_entry_points=False).dumps(Celsius(4))) == Celsius(4)


def test_entry_point_group_registers_plugin_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "wire_plugin_for_tests.py").write_text(
        "from superlite.serialization.wire import WireType\n"
        "class Kelvin:\n"
        "    def __init__(self, k): self.k = k\n"
        "KELVIN = WireType(tag='test.kelvin', types=('wire_plugin_for_tests:Kelvin',), encode=lambda v: v.k, decode=Kelvin)\n"
    )
    dist = tmp_path / "wire_plugin_for_tests-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wire-plugin-for-tests\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[superlite.wire_types]\ntest.kelvin = wire_plugin_for_tests:KELVIN\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    invalidate_caches()
    try:
        import wire_plugin_for_tests

        codec = WireCodec()
        assert "test.kelvin" in codec.wire_types()
        decoded = WireCodec().loads(codec.dumps([wire_plugin_for_tests.Kelvin(300)]))
        assert isinstance(decoded[0], wire_plugin_for_tests.Kelvin) and decoded[0].k == 300
    finally:
        monkeypatch.undo()
        invalidate_caches()


def test_pre_encoded_values_are_written_as_they_are(codec: WireCodec) -> None:
    tree = codec.to_json_value((b"x", {"__sl__": 1}))
    assert codec.loads(codec.dumps({"r": PreEncoded(tree)})) == {"r": (b"x", {"__sl__": 1})}


def test_registered_as_a_kombu_serializer() -> None:
    register_kombu_serializer()
    content_type, encoding, body = serialization.dumps((1, b"x", np.arange(2)), serializer=SERIALIZER)
    assert content_type == CONTENT_TYPE
    decoded = serialization.loads(body, content_type, encoding, accept=[CONTENT_TYPE])
    assert decoded[:2] == (1, b"x")
    np.testing.assert_array_equal(decoded[2], np.arange(2))
    with pytest.raises(serialization.ContentDisallowed):
        pickled_type, pickled_encoding, pickled = serialization.dumps({"a": 1}, serializer="pickle")
        serialization.loads(pickled, pickled_type, pickled_encoding, accept=[CONTENT_TYPE])
