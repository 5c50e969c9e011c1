"""The uuid-keyed model cache: byte and count budgets, measured sizes, single-flight loading."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from superlite.compute.cache import ModelCache, measure_size


class Loader:
    """Loads ``key`` as a bytes payload of ``sizes[key]`` bytes, counting the loads."""

    def __init__(self, sizes: dict[str, int], delay: float = 0.0, report: bool = True) -> None:
        self.sizes = sizes
        self.delay = delay
        self.report = report
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, key: str) -> tuple[bytes, int]:
        with self.lock:
            self.calls.append(key)
        time.sleep(self.delay)
        return bytes(self.sizes[key]), self.sizes[key] if self.report else 0


def test_evicts_least_recently_used_by_bytes() -> None:
    loader = Loader({"a": 400, "b": 400, "c": 400})
    cache = ModelCache(loader, max_bytes=1000, measure=None)
    for key in "abcacc":
        cache.get(key)
    assert loader.calls == ["a", "b", "c", "a"]
    assert cache.keys() == ["a", "c"]
    assert cache.total_bytes == 800
    assert cache.evictions == 2


def test_evicts_by_count() -> None:
    loader = Loader({"a": 1, "b": 1, "c": 1})
    cache = ModelCache(loader, max_items=2)
    for key in "abac":
        cache.get(key)
    assert cache.keys() == ["a", "c"]


def test_an_entry_bigger_than_the_budget_is_served_but_not_kept() -> None:
    cache = ModelCache(Loader({"huge": 5000, "small": 10}), max_bytes=1000, measure=None)
    cache.get("small")
    assert len(cache.get("huge")) == 5000
    assert cache.keys() == ["small"]


def test_measured_size_counts_what_the_loader_did_not_report() -> None:
    cache = ModelCache(Loader({"a": 600, "b": 600}, report=False), max_bytes=1000)
    cache.get("a")
    cache.get("b")
    assert cache.keys() == ["b"]
    assert cache.sizes()["b"] >= 600


def test_budget_changes_apply_to_the_next_admission() -> None:
    cache = ModelCache(Loader({"a": 1, "b": 1, "c": 1}))
    cache.get("a")
    cache.get("b")
    cache.max_items = 1
    cache.get("c")
    assert cache.keys() == ["c"]


def test_concurrent_first_requests_load_once() -> None:
    loader = Loader({"m": 10}, delay=0.2)
    cache = ModelCache(loader)
    threads = [threading.Thread(target=cache.get, args=("m",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loader.calls == ["m"]
    assert cache.loads == 1


def test_a_failed_load_is_retried_by_the_next_request() -> None:
    attempts = []

    def flaky(key: str) -> tuple[str, int]:
        attempts.append(key)
        if len(attempts) == 1:
            raise OSError("database blinked")
        return "model", 1

    cache = ModelCache(flaky)
    with pytest.raises(OSError):
        cache.get("m")
    assert cache.get("m") == "model"
    assert attempts == ["m", "m"]


def test_discard_and_clear_release_their_bytes() -> None:
    cache = ModelCache(Loader({"a": 10, "b": 20}), measure=None)
    cache.get("a")
    cache.get("b")
    cache.discard("a")
    assert cache.total_bytes == 20
    cache.clear()
    assert cache.total_bytes == 0 and cache.keys() == []


class Holder:
    def __init__(self, weights: object, shared: object = None) -> None:
        self.weights = weights
        self.shared = shared


def test_measure_size_counts_array_buffers_and_views() -> None:
    weights = np.zeros(250_000)  # 2 MB
    assert measure_size(Holder(weights)) >= weights.nbytes
    assert measure_size(Holder(weights[::2])) >= weights.nbytes // 2


def test_measure_size_stops_at_shared_objects() -> None:
    shared = Holder(np.zeros(1_000_000))
    small = Holder([1, 2, 3], shared=shared)
    assert measure_size(small) > 8_000_000
    assert measure_size(small, stop_types=(type(shared),)) < 10_000
