"""The torch_state_dict serializer on plain files: round trip, streaming, refusing smuggled code."""

from __future__ import annotations

import io
import os
import tempfile
import tracemalloc

import pytest
import torch
from superlite_torch.serializer import WRITE_SLICE, StateDictSerializer

from superlite.errors import SerializationError
from superlite.serialization.serializers import get_serializer

MB = 1024 * 1024


class Smuggler:
    """Unpickling this runs ``os.system`` (it would create ``marker``)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def sample_state_dict() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {"weight": torch.randn(3, 4), "bias": torch.randn(3), "steps": torch.tensor(7), "half": torch.randn(2).half()}


def assert_same(loaded: object, original: dict[str, torch.Tensor]) -> None:
    assert isinstance(loaded, dict) and list(loaded) == list(original)
    for key, tensor in original.items():
        assert loaded[key].dtype == tensor.dtype and torch.equal(loaded[key], tensor)


def test_registered_through_the_entry_point():
    assert isinstance(get_serializer("torch_state_dict"), StateDictSerializer)


@pytest.mark.parametrize("container", ["bytesio", "spool_in_memory", "spool_on_disk"])
def test_round_trip(container):
    serializer = StateDictSerializer()
    original = sample_state_dict()
    file = io.BytesIO() if container == "bytesio" else tempfile.SpooledTemporaryFile(max_size=64 * MB)
    with file:
        serializer.dump(original, file)
        if container == "spool_on_disk":
            file.rollover()
        file.seek(0)
        loaded = serializer.load(file)
    assert_same(loaded, original)


def test_disk_spool_is_memory_mapped_and_outlives_the_file():
    serializer = StateDictSerializer()
    original = {"w": torch.arange(1_000_000, dtype=torch.float32)}
    with tempfile.SpooledTemporaryFile(max_size=1024) as spool:
        serializer.dump(original, spool)
        spool.seek(0)
        loaded = serializer.load(spool)
    assert torch.equal(loaded["w"], original["w"])
    loaded["w"] += 1  # a private mapping: writable, and the change stays in this process
    assert loaded["w"][0].item() == 1.0


def test_identical_state_dicts_give_identical_bytes():
    serializer = StateDictSerializer()
    first, second = io.BytesIO(), io.BytesIO()
    serializer.dump(sample_state_dict(), first)
    serializer.dump(sample_state_dict(), second)
    assert first.getvalue() == second.getvalue()


def test_extra_state_of_plain_values_round_trips():
    serializer = StateDictSerializer()
    original = {"w": torch.ones(2), "_extra_state": {"vocab": ["a", "b"], "version": 3}}
    file = io.BytesIO()
    serializer.dump(original, file)
    file.seek(0)
    assert serializer.load(file)["_extra_state"] == {"vocab": ["a", "b"], "version": 3}


def test_dump_refuses_objects_that_could_not_load_back(tmp_path):
    with pytest.raises(SerializationError, match="'evil' holds a Smuggler"):
        StateDictSerializer().dump({"w": torch.ones(1), "evil": Smuggler(str(tmp_path / "x"))}, io.BytesIO())
    with pytest.raises(SerializationError, match="not a Linear"):
        StateDictSerializer().dump(torch.nn.Linear(1, 1), io.BytesIO())


def test_load_refuses_a_file_that_smuggles_code(tmp_path):
    marker = tmp_path / "pwned"
    file = io.BytesIO()
    torch.save({"weight": torch.ones(2), "payload": Smuggler(str(marker))}, file)  # what an attacker would write
    file.seek(0)
    with pytest.raises(Exception):  # torch itself refuses it with weights_only
        torch.load(io.BytesIO(file.getvalue()), weights_only=True)
    with pytest.raises(SerializationError, match="refused to load the stored state_dict.*system"):
        StateDictSerializer().load(file)
    assert not marker.exists()


def test_load_refuses_bytes_that_are_not_a_torch_file():
    with pytest.raises(SerializationError, match="refused to load"):
        StateDictSerializer().load(io.BytesIO(b"not a checkpoint" * 100))


class Recorder:
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def write(self, data: bytes) -> int:
        self.sizes.append(memoryview(data).nbytes)
        return self.sizes[-1]

    def flush(self) -> None:
        pass


def test_large_tensors_are_written_in_slices():
    recorder = Recorder()
    tensor = torch.zeros(5 * WRITE_SLICE // 4 + 3)  # float32: 5 slices and a bit
    StateDictSerializer().dump({"big": tensor}, recorder)
    assert max(recorder.sizes) == WRITE_SLICE
    assert sum(recorder.sizes) > tensor.numel() * 4


def test_a_spooled_file_never_buffers_a_large_tensor_in_memory():
    """torch.save hands over views of tensor memory; the spool spills to disk before growing past its limit."""
    tensor = torch.zeros(96 * MB // 4)
    limit = 16 * MB
    tracemalloc.start()
    try:
        with tempfile.SpooledTemporaryFile(max_size=limit) as spool:
            StateDictSerializer().dump({"big": tensor}, spool)
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * (limit + WRITE_SLICE), f"python heap peaked at {peak / MB:.0f} MB while dumping 96 MB"
