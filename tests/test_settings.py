"""Typed settings: options are validated once, at connect, and grouped per part."""

from __future__ import annotations

import pytest

import superlite
from superlite.config import CeleryOptions, Settings, known_options
from superlite.errors import ConfigurationError


def test_options_land_in_their_group() -> None:
    settings = Settings.resolve("sqlite://", environ={}, busy_timeout=5, cache_items=3, queue="q", timeout=7)
    assert settings.store.busy_timeout == 5.0 and isinstance(settings.store.busy_timeout, float)
    assert settings.cache.cache_items == 3
    assert (settings.celery.queue, settings.celery.timeout) == ("q", 7)


def test_none_means_the_default() -> None:
    assert Settings.resolve("sqlite://", environ={}, queue=None).celery == CeleryOptions()


def test_misspelled_option_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown option 'queu' \(did you mean 'queue'\?\); known options: .*cache_items"):
        superlite.connect("sqlite://", queu="x")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("cache_items", "3", "option 'cache_items' must be int, not str"),
        ("auto_upgrade", 1, "option 'auto_upgrade' must be bool, not int"),
        ("busy_timeout", True, "option 'busy_timeout' must be float, not bool"),
        ("timeout", -1, "option 'timeout' must be greater than 0"),
        ("queue", "", "option 'queue' must not be empty"),
        ("gc_grace", -1, "option 'gc_grace' must be a finite number, 0 or greater, not -1"),
        ("gc_grace", float("inf"), "option 'gc_grace' must be a finite number, 0 or greater, not inf"),
        ("gc_grace", float("nan"), "option 'gc_grace' must be a finite number, 0 or greater, not nan"),
    ],
)
def test_mistyped_option_is_refused(option: str, value: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.resolve("sqlite://", environ={}, **{option: value})


def test_gc_grace_may_be_zero() -> None:
    assert Settings.resolve("sqlite://", environ={}, gc_grace=0).store.gc_grace == 0.0
    assert Settings.resolve("sqlite://", environ={}, gc_grace=600).store.gc_grace == 600.0


def test_uri_must_be_a_string() -> None:
    with pytest.raises(ConfigurationError, match=r"uri must be a URI string, not int \(5\)"):
        superlite.connect(5)  # type: ignore[arg-type]


def test_environment_is_read_once_into_the_settings() -> None:
    settings = Settings.resolve(environ={"SUPERLITE_URI": "sqlite://", "SUPERLITE_BROKER": "redis://h/0"})
    assert (settings.uri, settings.broker) == ("sqlite://", "redis://h/0")


def test_repr_hides_passwords() -> None:
    settings = Settings.resolve("postgresql://u:secret@h/db", broker="redis://:pw@h/0", environ={})
    assert "secret" not in repr(settings) and "pw@" not in repr(settings)


def test_known_options_lists_every_group() -> None:
    assert {"busy_timeout", "cache_mb", "visibility_timeout", "auto_upgrade"} <= set(known_options())
