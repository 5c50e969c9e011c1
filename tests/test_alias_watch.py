"""Alias-following callers reuse alias states until the change feed says they moved.

The watch's thread is driven by hand here (a long ``alias_refresh``, then ``poll()``), so each
interleaving is forced, not hoped for; one test lets the thread run to check the bound.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import superlite
from superlite import ObjectModel
from superlite.errors import NotFoundError
from superlite.registry.alias_watch import AliasWatch
from superlite.registry.resolver import Resolver


@pytest.fixture(params=["sqlite", "mongomock"])
def uri(request: pytest.FixtureRequest, tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'watch.db'}" if request.param == "sqlite" else f"mongomock://watch-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def mover(uri: str) -> Iterator[superlite.Datalayer]:
    """The Datalayer that stores three versions of ``m`` and moves the alias (another process, in effect)."""
    with superlite.connect(uri, broker=None, alias_refresh=0) as db:
        for i in range(3):
            db.apply(ObjectModel("m", object=lambda x, i=i: (f"v{i}", x)))
        db.set_alias("model", "m", "production", version=0)
        yield db


@pytest.fixture
def caller(uri: str, mover: superlite.Datalayer) -> Iterator[superlite.Datalayer]:
    """A Datalayer whose watch polls only when a test says so."""
    with superlite.connect(uri, broker=None, alias_refresh=3600.0) as db:
        yield db


def recording(owner: object, method: str, argument: int) -> list[Any]:
    """Replace ``owner.method`` by a wrapper that records its positional ``argument`` at each call."""
    calls: list[Any] = []
    original = getattr(owner, method)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[argument] if len(args) > argument else None)
        return original(*args, **kwargs)

    setattr(owner, method, recorded)
    return calls


def count_reads(resolver: Resolver) -> list[str]:
    """Record each alias read the resolver makes (the alias's name)."""
    return recording(resolver.lifecycle, "get", 2)


def count_records(resolver: Resolver) -> list[int | None]:
    """Record each version lookup the resolver makes (the version; None: the newest)."""
    return recording(resolver.registry, "record", 2)


def test_a_following_call_reads_the_alias_once(caller: superlite.Datalayer) -> None:
    reads = count_reads(caller.resolver)
    proxy = caller.load("model", "m@production")
    assert [proxy.predict(i) for i in range(50)] == [("v0", i) for i in range(50)]
    assert reads == ["production"]


def test_a_move_elsewhere_is_seen_after_the_next_poll(caller: superlite.Datalayer, mover: superlite.Datalayer) -> None:
    proxy = caller.load("model", "m@production")
    assert proxy.predict(1) == ("v0", 1)
    mover.set_alias("model", "m", "production", version=1)
    assert proxy.predict(1) == ("v0", 1)  # not polled yet: the reused state
    caller.resolver.watch().poll()
    assert proxy.predict(1) == ("v1", 1)


def test_removing_the_model_invalidates_its_aliases(caller: superlite.Datalayer, mover: superlite.Datalayer) -> None:
    proxy = caller.load("model", "m@production")
    proxy.predict(1)
    mover.remove("model", "m", version=2)
    reads = count_reads(caller.resolver)
    caller.resolver.watch().poll()
    assert proxy.predict(1) == ("v0", 1) and reads == ["production"]


def test_a_state_read_before_a_move_and_stored_after_the_poll_is_not_reused(
    caller: superlite.Datalayer, mover: superlite.Datalayer
) -> None:
    """The race: read v0 → (move to v1, poll sees it) → store v0. The next call must read again."""
    resolver = caller.resolver
    watch = resolver.watch()
    read = resolver.lifecycle.get
    read_done, may_return = threading.Event(), threading.Event()

    def slow_read(type_id: str, identifier: str, alias: str):
        state = read(type_id, identifier, alias)
        read_done.set()
        may_return.wait(30)
        return state

    proxy = caller.load("model", "m@production")
    resolver.forget()
    resolver.lifecycle.get = slow_read  # type: ignore[method-assign]
    first: list[object] = []
    racing = threading.Thread(target=lambda: first.append(proxy.predict(1)))
    racing.start()
    assert read_done.wait(30)
    mover.set_alias("model", "m", "production", version=1)
    watch.poll()
    resolver.lifecycle.get = read  # type: ignore[method-assign]
    may_return.set()
    racing.join(30)
    assert first == [("v0", 1)]
    assert proxy.predict(1) == ("v1", 1)


def test_nothing_is_reused_while_the_feed_cannot_be_read(caller: superlite.Datalayer, mover: superlite.Datalayer) -> None:
    proxy = caller.load("model", "m@production")
    proxy.predict(1)
    watch = caller.resolver.watch()
    watch._trusted_until = time.monotonic() - 1  # as after several failed polls
    mover.set_alias("model", "m", "production", version=2)
    assert proxy.predict(1) == ("v2", 1)


def test_the_thread_bounds_the_delay(uri: str, mover: superlite.Datalayer) -> None:
    with superlite.connect(uri, broker=None, alias_refresh=0.05) as caller:
        proxy = caller.load("model", "m@production")
        assert proxy.predict(1) == ("v0", 1)
        mover.set_alias("model", "m", "production", version=2)
        deadline = time.monotonic() + 30
        while proxy.predict(1) != ("v2", 1):
            assert time.monotonic() < deadline, "the move was never seen"
            time.sleep(0.01)


def test_the_watch_pages_through_a_long_feed(mover: superlite.Datalayer) -> None:
    watch = AliasWatch(mover.metadata, 3600.0)
    start = watch.position()
    for version in (1, 2, 0):
        mover.set_alias("model", "m", "staging", version=version)
    watch.poll()
    assert watch.position() > start
    assert not watch.fresh(("model", "m", "staging"), start)
    assert watch.fresh(("model", "m", "production"), start)
    assert watch.fresh(("model", "m", "staging"), watch.position())


def test_postgresql_wakes_a_waiting_watch_at_each_change(tmp_path) -> None:
    from superlite.testing.databases import isolated_database

    with isolated_database("postgresql", tmp_path) as uri, superlite.connect(uri, broker=None) as db:
        db.apply(ObjectModel("m", object=lambda x: x))
        assert db.metadata.wait_for_changes(0.01) is True  # LISTENing from now on
        with superlite.connect(uri, broker=None) as other:
            other.set_alias("model", "m", "production", version=0)
        woke = threading.Event()
        waiting = threading.Thread(target=lambda: (db.metadata.wait_for_changes(60), woke.set()))
        waiting.start()
        waiting.join(30)
        assert woke.is_set(), "the change's NOTIFY did not end a 60 s wait within 30 s"


def test_stores_without_notifications_say_so(mover: superlite.Datalayer) -> None:
    assert mover.metadata.wait_for_changes(60) is False



def test_latest_is_looked_up_once_then_follows_new_versions(caller: superlite.Datalayer, mover: superlite.Datalayer) -> None:
    """The newest version is read once; a version applied elsewhere answers after the next poll."""
    reads = count_records(caller.resolver)
    latest = superlite.Selector("model", "m")
    assert [caller.compute(latest, "predict", (i,)) for i in range(20)] == [("v2", i) for i in range(20)]
    assert reads == [None]
    mover.apply(ObjectModel("m", object=lambda x: ("v3", x)))
    assert caller.compute(latest, "predict", (1,)) == ("v2", 1)  # not polled yet: the reused lookup
    caller.resolver.watch().poll()
    assert caller.compute(latest, "predict", (1,)) == ("v3", 1)
    assert reads == [None, None]


def test_a_version_applied_here_is_latest_at_once(caller: superlite.Datalayer) -> None:
    """Applying through this Datalayer moves "latest" at once, and leaves the lookup of a version number alone."""
    latest, first = superlite.Selector("model", "m", alias="latest"), superlite.Selector("model", "m", version=1)
    assert caller.compute(latest, "predict", (1,)) == ("v2", 1) and caller.compute(first, "predict", (1,)) == ("v1", 1)
    reads = count_records(caller.resolver)
    caller.apply(ObjectModel("m", object=lambda x: ("here", x)))
    assert caller.compute(latest, "predict", (1,)) == ("here", 1)
    assert caller.compute(first, "predict", (1,)) == ("v1", 1)
    assert reads == [None]


def test_a_version_number_is_reused_until_a_removal(caller: superlite.Datalayer, mover: superlite.Datalayer) -> None:
    """A new version leaves version 1 alone; removing it elsewhere is seen after the next poll."""
    reads = count_records(caller.resolver)
    first = superlite.Selector("model", "m", version=1)
    assert caller.compute(first, "predict", (1,)) == ("v1", 1)
    mover.apply(ObjectModel("m", object=lambda x: ("v3", x)))
    caller.resolver.watch().poll()
    assert caller.compute(first, "predict", (1,)) == ("v1", 1) and reads == [1]
    mover.remove("model", "m", version=1)
    caller.resolver.watch().poll()
    with pytest.raises(NotFoundError):
        caller.compute(first, "predict", (1,))


def test_without_a_watch_latest_is_read_at_every_call(uri: str, mover: superlite.Datalayer) -> None:
    with superlite.connect(uri, broker=None, alias_refresh=0) as db:
        reads = count_records(db.resolver)
        for i in range(3):
            db.compute(superlite.Selector("model", "m"), "predict", (i,))
        assert reads == [None, None, None]


def test_cached_answers_without_a_read_and_draws_the_canary_at_each_call(caller: superlite.Datalayer, mover: superlite.Datalayer) -> None:
    """What an event loop calls: no read once the state is known, and a fresh canary draw per call."""
    mover.start_canary("model", "m", "production", 1, 50)
    selector = superlite.Selector("model", "m", alias="production")
    assert caller.resolver.cached(selector) is None  # nothing read yet: the caller must resolve (in a thread)
    reads = count_reads(caller.resolver)
    caller.resolve(selector)
    versions = {caller.resolver.cached(selector).version for _ in range(200)}  # type: ignore[union-attr]
    assert versions == {0, 1} and reads == ["production"]
    assert {caller.resolver.cached(selector, split=False).version for _ in range(20)} == {0}  # type: ignore[union-attr]
    mover.rollback("model", "m", "production")
    caller.resolver.watch().poll()
    assert caller.resolver.cached(selector) is None


def test_forgetting_a_lookup_another_thread_just_forgot_is_harmless(caller: superlite.Datalayer) -> None:
    """forget() walks a snapshot of the keys; a key dropped meanwhile by another thread is skipped, not a KeyError."""

    class DroppedMeanwhile(dict):  # type: ignore[type-arg]
        def __iter__(self):  # the snapshot still names a key another thread has just deleted
            yield ("model", "m", "production")
            yield from super().__iter__()

    selector = superlite.Selector("model", "m", alias="production")
    caller.resolve(selector)
    caller.resolve(superlite.Selector("model", "m"))
    resolver = caller.resolver
    resolver._states, resolver._versions = DroppedMeanwhile(resolver._states), DroppedMeanwhile(resolver._versions)
    resolver.forget("model", "m")
    assert dict(resolver._states) == {} and dict(resolver._versions) == {}
    assert resolver.cached(selector) is None
