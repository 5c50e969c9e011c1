"""The server's memory of resolved names: reused between feed reads, forgotten on a change event."""

from __future__ import annotations

from dataclasses import dataclass, field

from superlite.components.reference import Resolved, Selector
from superlite.serve.resolutions import Resolutions
from superlite.stores.base import ChangeEvent


@dataclass
class FakeRegistry:
    """A Datalayer stand-in: counts resolutions, serves a change feed the test appends to."""

    versions: dict[str, int] = field(default_factory=lambda: {"a": 0, "b": 0})
    events: list[ChangeEvent] = field(default_factory=list)
    resolved: int = 0

    @property
    def metadata(self) -> FakeRegistry:
        return self

    def resolve(self, selector: Selector) -> Resolved:
        self.resolved += 1
        version = self.versions[selector.identifier]
        return Resolved("model", selector.identifier, f"{selector.identifier}-{version}", version)

    def changes(self, since: int = 0, limit: int = 1000) -> list[ChangeEvent]:
        return [e for e in self.events if e.id > since][:limit]

    def apply(self, identifier: str) -> None:
        self.versions[identifier] += 1
        self.events.append(ChangeEvent(len(self.events) + 1, "apply", "model", identifier))


def test_names_are_resolved_once_until_the_feed_names_them():
    registry = FakeRegistry()
    registry.apply("a")  # history before the server started
    memory = Resolutions(registry, interval=3600)  # type: ignore[arg-type]
    a, b = Selector("model", "a"), Selector("model", "b")
    assert memory.cached(a) is None
    assert memory.resolve(a).version == 1 and memory.resolve(b).version == 0
    assert [memory.resolve(a).version for _ in range(5)] == [1] * 5
    assert memory.cached(a).version == 1
    assert registry.resolved == 2

    registry.apply("a")
    memory._synced = float("-inf")  # the interval has passed
    assert memory.cached(a) is None
    assert memory.resolve(a).version == 2  # forgotten by the event
    assert memory.resolve(b).version == 0  # kept: nothing happened to b
    assert registry.resolved == 3

    memory.forget("model", "b")
    assert memory.resolve(b).version == 0 and registry.resolved == 4


def test_without_an_interval_or_a_feed_every_call_resolves():
    registry = FakeRegistry()
    for memory in (Resolutions(registry, interval=0), Resolutions(_NoFeed(registry), interval=3600)):  # type: ignore[arg-type]
        before = registry.resolved
        for _ in range(3):
            memory.resolve(Selector("model", "a"))
        assert registry.resolved == before + 3 and memory.cached(Selector("model", "a")) is None


@dataclass
class _NoFeed:
    inner: FakeRegistry

    @property
    def metadata(self) -> object:
        return object()

    def resolve(self, selector: Selector) -> Resolved:
        return self.inner.resolve(selector)
