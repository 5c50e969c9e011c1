"""Aliases, canaries, promotion and rollback, on every SQL store, through the public API."""

from __future__ import annotations

import threading

import pytest

import superlite
from superlite import ObjectModel
from superlite.components.reference import Selector
from superlite.errors import (
    ArgumentTypeError,
    ConfigurationError,
    DependencyError,
    InvalidArgumentError,
    NotFoundError,
)


def one(x):
    return ("v-one", x)


def two(x):
    return ("v-two", x)


def three(x):
    return ("v-three", x)


def versions_of(db: superlite.Datalayer, *functions) -> list[int]:
    return [db.apply(ObjectModel("m", object=f)).version for f in functions]


def test_a_proxy_follows_its_alias(db: superlite.Datalayer) -> None:
    versions_of(db, one, two)
    assert db.set_alias("model", "m", "production", version=0)["version"] == 0
    follower = db.load("model", "m", alias="production")
    same = db.load("model", "m@production")
    assert follower.follows_alias and same.follows_alias
    assert follower.predict(1) == ("v-one", 1) and follower.version == 0
    db.set_alias("model", "m", "production", version=1)
    assert follower.predict(1) == ("v-two", 1) and same.version == 1


def test_a_pinned_proxy_never_moves(db: superlite.Datalayer) -> None:
    versions_of(db, one, two)
    db.set_alias("model", "m", "production", version=0)
    pinned = db.load("model", "m", version=0)
    db.set_alias("model", "m", "production", version=1)
    assert pinned.predict(1) == ("v-one", 1) and pinned.version == 0


def test_aliases_list_and_remove(db: superlite.Datalayer) -> None:
    versions_of(db, one, two)
    db.set_alias("model", "m", "production", version=1)
    db.set_alias("model", "m", "staging", version=0)
    listed = db.aliases("model", "m")
    assert sorted(listed) == ["production", "staging"]
    assert (listed["production"]["version"], listed["production"]["previous_version"]) == (1, None)
    follower = db.load("model", "m@staging")
    db.remove_alias("model", "m", "staging")
    assert sorted(db.aliases("model", "m")) == ["production"]
    with pytest.raises(NotFoundError, match=r"has no alias 'staging'; aliases: latest, production"):
        follower.predict(1)
    with pytest.raises(NotFoundError, match="has no alias 'staging'"):
        db.remove_alias("model", "m", "staging")


@pytest.mark.parametrize("name", ["latest", "Prod", "1st", "a b", "", "x" * 65])
def test_bad_alias_names_are_refused(db: superlite.Datalayer, name: str) -> None:
    versions_of(db, one)
    with pytest.raises(InvalidArgumentError):
        db.set_alias("model", "m", name, version=0)


def test_an_alias_needs_an_existing_version(db: superlite.Datalayer) -> None:
    versions_of(db, one)
    with pytest.raises(NotFoundError):
        db.set_alias("model", "m", "production", version=7)
    with pytest.raises(NotFoundError):
        db.set_alias("model", "missing", "production", version=0)


def test_history_says_who_when_from_to_and_why(db: superlite.Datalayer) -> None:
    versions_of(db, one, two)
    db.set_alias("model", "m", "production", version=0, why="first release")
    db.set_alias("model", "m", "production", version=1)
    newest, oldest = db.alias_history("model", "m")
    assert (oldest["action"], oldest["before"], oldest["after"]["version"], oldest["why"]) == ("set", None, 0, "first release")
    assert (newest["before"]["version"], newest["after"]["version"], newest["after"]["previous_version"]) == (0, 1, 0)
    assert "@" in newest["who"] and newest["at"]


def test_canary_splits_by_key_within_two_points(db: superlite.Datalayer) -> None:
    versions_of(db, one, two)
    db.set_alias("model", "m", "production", version=0)
    state = db.start_canary("model", "m", "production", version=1, percent=10)
    assert state["canary"]["percent"] == 10 and state["version"] == 0
    selector = Selector("model", "m", alias="production")
    chosen = [db.resolve(selector, key=f"user-{i}").version for i in range(10_000)]
    assert abs(chosen.count(1) / 100 - 10) <= 2
    sticky = [db.resolve(selector, key="user-42").version for _ in range(20)]
    assert len(set(sticky)) == 1


def test_predict_with_a_key_is_sticky_during_a_canary(db: superlite.Datalayer) -> None:
    versions_of(db, one, two)
    db.set_alias("model", "m", "production", version=0)
    db.start_canary("model", "m", "production", version=1, percent=50)
    follower = db.load("model", "m@production")
    for key in ("a", "b", "c", "d"):
        answers = {tuple(follower.predict(0, key=key)) for _ in range(5)}
        assert len(answers) == 1
    assert follower.version == 0  # the target; the canary answers only its share


def test_promote_then_rollback(db: superlite.Datalayer) -> None:
    versions_of(db, one, two, three)
    db.set_alias("model", "m", "production", version=0)
    db.start_canary("model", "m", "production", version=1, percent=10)
    promoted = db.promote("model", "m", "production")
    assert (promoted["version"], promoted["previous_version"], "canary" in promoted) == (1, 0, False)
    rolled = db.rollback("model", "m", "production")
    assert (rolled["version"], rolled["previous_version"]) == (0, 1)  # rolling back again would return to 1
    with pytest.raises(ConfigurationError, match="no canary to promote"):
        db.promote("model", "m", "production")


def test_rollback_during_a_canary_drops_the_canary(db: superlite.Datalayer) -> None:
    versions_of(db, one, two)
    db.set_alias("model", "m", "production", version=0)
    db.start_canary("model", "m", "production", version=1, percent=30)
    rolled = db.rollback("model", "m", "production")
    assert rolled["version"] == 0 and "canary" not in rolled
    assert [c["action"] for c in db.alias_history("model", "m")] == ["rollback", "canary", "set"]


def test_canary_arguments_are_checked(db: superlite.Datalayer) -> None:
    versions_of(db, one, two)
    db.set_alias("model", "m", "production", version=0)
    for percent in (0, 100):
        with pytest.raises(InvalidArgumentError, match="1 to 99 percent"):
            db.start_canary("model", "m", "production", version=1, percent=percent)
    for percent in (12.5, True, "5"):
        with pytest.raises(ArgumentTypeError, match="1 to 99 percent"):
            db.start_canary("model", "m", "production", version=1, percent=percent)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="already points at version 0"):
        db.start_canary("model", "m", "production", version=0, percent=5)
    with pytest.raises(NotFoundError, match="has no alias 'staging'"):
        db.start_canary("model", "m", "staging", version=1, percent=5)


def test_removing_an_aliased_version_is_refused_unless_forced(db: superlite.Datalayer) -> None:
    versions_of(db, one, two)
    db.set_alias("model", "m", "production", version=0)
    db.set_alias("model", "m", "staging", version=1)
    db.start_canary("model", "m", "production", version=1, percent=10)
    with pytest.raises(DependencyError, match=r"aliases 'production' \(version 0\) point at it"):
        db.remove("model", "m", version=0)
    with pytest.raises(DependencyError, match="'staging'"):
        db.remove("model", "m", version=1)
    db.remove("model", "m", version=1, force=True)
    assert sorted(db.aliases("model", "m")) == ["production"]
    assert "canary" not in db.aliases("model", "m")["production"]


def test_concurrent_moves_leave_a_consistent_history(db_uri: str) -> None:
    with superlite.connect(db_uri, broker=None) as db:
        versions_of(db, one, two, three)
        db.set_alias("model", "m", "production", version=0)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def mover(version: int) -> None:
        try:
            with superlite.connect(db_uri, broker=None) as own:
                barrier.wait()
                for _ in range(5):
                    own.set_alias("model", "m", "production", version=version)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=mover, args=(v % 3,)) for v in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with superlite.connect(db_uri, broker=None) as db:
        history = list(reversed(db.alias_history("model", "m", limit=1000)))
        assert len(history) == 21
        for before, after in zip(history, history[1:]):
            assert after["before"] == before["after"]
        assert db.aliases("model", "m")["production"]["revision"] == 21
