"""The shared helpers of superlite/common: one way each to mask, check JSON, import, retry and count leases."""

from __future__ import annotations

import pytest

from superlite.common.imports import find_loaded, resolve
from superlite.common.json_values import is_json_value, json_value
from superlite.common.leases import Leases
from superlite.common.messages import cause, sentence
from superlite.common.retry import retry
from superlite.common.uris import mask_uri, uri_scheme
from superlite.errors import SerializationError


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        ("postgresql://user:secret@host:5432/db", "postgresql://user:***@host:5432/db"),
        ("redis://:a@h1:6379/0;redis://:b@h2:6379/0", "redis://:***@h1:6379/0;redis://:***@h2:6379/0"),
        ("mysql://root:p@ss/w0rd@db.local/test", "mysql://root:***@db.local/test"),
        ("mongodb://h/db?authSource=admin&password=hunter2", "mongodb://h/db?authSource=admin&password=***"),
        ("sqlite:////srv/a@b/x.db", "sqlite:////srv/a@b/x.db"),
        ("amqp://guest@localhost//", "amqp://guest@localhost//"),
        (None, "None"),
    ],
)
def test_mask_uri(uri: str | None, masked: str) -> None:
    assert mask_uri(uri) == masked


def test_uri_scheme() -> None:
    assert (uri_scheme("PostgreSQL+psycopg://h/db"), uri_scheme("/plain/path")) == ("postgresql+psycopg", "")


def test_json_value_converts_tuples_and_names_the_bad_position() -> None:
    assert json_value({"a": (1, [2.5, None])}, "params") == {"a": [1, [2.5, None]]}
    with pytest.raises(SerializationError, match=r"params\['a'\]\[1\] holds the float nan, which is not a JSON value \(JSON values are .*\); hint"):
        json_value({"a": [1, float("nan")]}, "params", "; hint")
    with pytest.raises(SerializationError, match=r"holds the non-string key 1"):
        json_value({1: 2}, "params")
    assert not is_json_value({"x": object()}) and is_json_value([True, "s", {"k": None}])


def test_resolve_and_find_loaded() -> None:
    assert resolve("superlite.common.leases:Leases") is Leases
    assert find_loaded("superlite.common.leases:Leases") is Leases
    assert find_loaded("a_module_nobody_imported:Thing") is None
    with pytest.raises(ImportError):
        resolve("a_module_nobody_imported:Thing")


def test_retry_retries_only_what_it_is_told_to() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("lost a race")
        return "ok"

    assert retry(flaky, attempts=5, retry_if=lambda exc: isinstance(exc, TimeoutError)) == "ok"
    assert len(calls) == 3
    with pytest.raises(KeyError):
        retry(lambda: {}["x"], attempts=5, retry_if=lambda exc: isinstance(exc, TimeoutError))


def test_retry_gives_up_after_its_attempts_or_budget() -> None:
    calls: list[int] = []

    def always() -> None:
        calls.append(1)
        raise TimeoutError("still locked")

    with pytest.raises(TimeoutError):
        retry(always, attempts=4, retry_if=lambda exc: True)
    assert len(calls) == 4
    calls.clear()
    with pytest.raises(TimeoutError):
        retry(always, attempts=1000, retry_if=lambda exc: True, budget=0)
    assert len(calls) == 1


def test_leases_release_once_when_the_last_is_given_back() -> None:
    released: list[int] = []
    leases = Leases(lambda: released.append(1))
    first, second = leases.take(), leases.take()
    first()
    first()
    assert released == []
    second()
    assert released == [1]


@pytest.mark.parametrize(
    ("quoted", "expected"),
    [
        ("Connection refused.", "Connection refused."),
        ("Connection refused", "Connection refused."),
        ("failed:\n\tIs the server running on that host and accepting TCP/IP connections?", "failed: Is the server running on that host and accepting TCP/IP connections?"),
        ("Retry limit exceeded.\nThe application must be restarted.\n", "Retry limit exceeded. The application must be restarted."),
        ("timed out...", "timed out."),
        ("no such queue!", "no such queue!"),
    ],
)
def test_sentence_ends_a_quoted_cause_once(quoted: str, expected: str) -> None:
    assert sentence(quoted) == expected


def test_cause_names_the_type_even_without_a_message() -> None:
    assert cause(ConnectionError("Error 111 connecting.\n")) == "ConnectionError: Error 111 connecting."
    assert cause(TimeoutError()) == "TimeoutError."
