"""Checks for the arguments of public calls, so every store sees the same, already valid values.

A wrong type raises :class:`~superlite.errors.ArgumentTypeError` (a ``TypeError``), a value out
of range :class:`~superlite.errors.InvalidArgumentError` (a ``ValueError``); both name the
argument and the value. A database is never left to cast a string to a number its own way.
"""

from __future__ import annotations

from superlite.errors import ArgumentTypeError, InvalidArgumentError

#: The highest version number: the largest signed 32-bit integer, what the SQL stores' ``version``
#: column holds (versions count up from 0, so no apply comes near it).
MAX_VERSION = 2**31 - 1


def check_version(value: object, argument: str = "version") -> int:
    """``value`` as a version number: an ``int`` (not a ``bool``) from 0 to :data:`MAX_VERSION`."""
    if isinstance(value, bool) or not isinstance(value, int):
        hint = " (leave it out, or None, for the latest version)" if isinstance(value, str) else ""
        raise ArgumentTypeError(f"{argument} must be an int from 0 to {MAX_VERSION}{hint}, not {value!r}")
    if not 0 <= value <= MAX_VERSION:
        raise InvalidArgumentError(f"{argument} must be an int from 0 to {MAX_VERSION}, not {value!r}")
    return value


def check_positive_int(value: object, argument: str) -> int:
    """``value`` as a count: an ``int`` (not a ``bool``) of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"{argument} must be a positive int, not {value!r}")
    if value < 1:
        raise InvalidArgumentError(f"{argument} must be a positive int, not {value!r}")
    return value
