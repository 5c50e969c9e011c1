"""Checks for the arguments of public calls, so every store sees the same, already valid values.

A wrong type raises :class:`~superlite.errors.ArgumentTypeError` (a ``TypeError``), a value out
of range :class:`~superlite.errors.InvalidArgumentError` (a ``ValueError``); both name the
argument and the value. A database is never left to cast a string to a number its own way, or
to refuse (or silently change) a name that another database would keep.

:func:`checks_arguments` applies them to a public function by parameter name, once, at the
boundary; everything below it trusts its arguments.
"""

from __future__ import annotations

import inspect
import reprlib
import uuid as uuid_module
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any, TypeVar

from superlite.errors import ArgumentTypeError, InvalidArgumentError

#: The highest version number: the largest signed 32-bit integer, what the SQL stores' ``version``
#: column holds (versions count up from 0, so no apply comes near it).
MAX_VERSION = 2**31 - 1

#: The longest identifier or type_id, in characters: what the SQL stores' name columns hold.
MAX_NAME_LENGTH = 255

F = TypeVar("F", bound=Callable[..., Any])

_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 80, 80, 60


def shown(value: object) -> str:
    """``repr(value)`` shortened for a message (a huge argument must not make a huge error)."""
    return _REPR.repr(value)


def decimal_digits(text: str) -> bool:
    """Whether ``text`` is a plain number: ASCII digits alone (``str.isdigit`` also accepts "³", which ``int`` refuses)."""
    return text.isascii() and text.isdigit()


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


def check_count(value: object, argument: str) -> int:
    """``value`` as a position or count from 0: an ``int`` (not a ``bool``) from 0 to 2**63 - 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(f"{argument} must be an int of at least 0, not {value!r}")
    if not 0 <= value < 2**63:
        raise InvalidArgumentError(f"{argument} must be an int from 0 to {2**63 - 1}, not {value!r}")
    return value


def check_timeout(value: object, argument: str = "timeout") -> float:
    """``value`` as a time limit in seconds: a finite ``int`` or ``float`` above 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(f"{argument} must be a number of seconds, not {shown(value)}")
    if not 0 < value < float("inf"):
        raise InvalidArgumentError(f"{argument} must be a finite number of seconds above 0, not {shown(value)}")
    return value


def check_method(value: object, argument: str = "method") -> str:
    """``value`` as the name of a method to call: a non-empty ``str``."""
    if not isinstance(value, str) or not value.isidentifier():
        raise ArgumentTypeError(f"{argument} must be the name of a method (a str such as 'predict'), not {shown(value)}")
    return value


def check_flag(value: object, argument: str) -> bool:
    """``value`` as a switch: a ``bool`` (not a string such as ``"no"``, which would count as true)."""
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{argument} must be True or False, not {shown(value)}")
    return value


def check_text(value: object, argument: str) -> str:
    """``value`` as a short name (a routing key, a queue): a non-empty ``str``."""
    if not isinstance(value, str) or not value:
        raise ArgumentTypeError(f"{argument} must be a non-empty str, not {shown(value)}")
    return value


def check_arguments_tuple(value: object, argument: str = "args") -> tuple[object, ...]:
    """``value`` as positional arguments: a ``list`` or ``tuple``."""
    if not isinstance(value, (list, tuple)):
        raise ArgumentTypeError(f"{argument} must be a tuple (or list) of arguments, not {shown(value)}")
    return tuple(value)


def check_keywords(value: object, argument: str = "kwargs") -> dict[str, object]:
    """``value`` as keyword arguments: a ``dict`` with ``str`` keys."""
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ArgumentTypeError(f"{argument} must be a dict of keyword arguments with str keys, not {shown(value)}")
    return dict(value)


def check_items(value: object, argument: str = "items") -> list[object]:
    """``value`` as the inputs of a batch: a ``list``, ``tuple`` or other sized iterable (not a str or bytes)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ArgumentTypeError(f"{argument} must be a list of inputs, not {shown(value)}")
    return list(value)


def check_tags(value: object, argument: str = "tags") -> dict[str, object]:
    """``value`` as tags: a ``dict`` with non-empty ``str`` names (the values are checked where they are stored)."""
    if not isinstance(value, Mapping) or not all(isinstance(key, str) and key for key in value):
        raise ArgumentTypeError(f"{argument} must be a dict of non-empty str names to str values, not {shown(value)}")
    return dict(value)


def check_identifier(value: object, argument: str = "identifier") -> str:
    """``value`` as a component name: a ``str`` every store keeps and every reference carries.

    Non-empty, at most :data:`MAX_NAME_LENGTH` characters, printable (``str.isprintable``: no
    control, format or separator characters but the ASCII space, so no NUL, ESC or newline), no
    leading or trailing whitespace (MySQL/MariaDB compare ``"a "`` equal to ``"a"``) and no ``@``
    (``name@3`` and ``name@alias`` select a version).
    """
    text = _check_name(value, argument)
    if "@" in text:
        raise InvalidArgumentError(f"{argument} must not contain '@' (name@version and name@alias select a version), not {text!r}")
    return text


def check_type_id(value: object, argument: str = "type_id") -> str:
    """``value`` as a component type: the rules of :func:`check_identifier`, and no ``:``.

    Reference strings (``&:component:<type_id>:<identifier>:<uuid>``) end the type at its first ``:``.
    """
    text = check_identifier(value, argument)
    if ":" in text:
        raise InvalidArgumentError(f"{argument} must not contain ':' (a reference string could not carry it), not {text!r}")
    return text


def check_selecting_name(value: object, argument: str = "identifier") -> str:
    """``value`` as an identifier that may end in ``@<version>`` or ``@<alias>`` (what ``load`` takes)."""
    text = _check_name(value, argument)
    name, at, _suffix = text.rpartition("@")
    check_identifier(name if at else text, argument)
    return text


def check_uuid(value: object, argument: str = "uuid") -> str:
    """``value`` as a uuid: a ``str`` that is a valid UUID, returned in its canonical form."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{argument} must be a UUID string, not {shown(value)}")
    try:
        return str(uuid_module.UUID(value))
    except ValueError:
        raise InvalidArgumentError(f"{argument} must be a UUID string such as {str(uuid_module.UUID(int=0))!r}, not {shown(value)}") from None


def _check_name(value: object, argument: str) -> str:
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{argument} must be a str, not {value!r}")
    if not value:
        raise InvalidArgumentError(f"{argument} must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidArgumentError(f"{argument} must be at most {MAX_NAME_LENGTH} characters, not {len(value)}: {value[:40]!r}...")
    if not value.isprintable():
        raise InvalidArgumentError(f"{argument} must be printable (no control characters such as NUL, ESC or newline), not {value!r}")
    if value.strip() != value:
        raise InvalidArgumentError(f"{argument} must not begin or end with whitespace, not {value!r}")
    return value


#: The check for each parameter name :func:`checks_arguments` knows.
CHECKS: Mapping[str, Callable[[Any, str], Any]] = {
    "type_id": check_type_id,
    "identifier": check_identifier,
    "version": check_version,
    "uuid": check_uuid,
    "chunk_size": check_positive_int,
    "since": check_count,
    "limit": check_positive_int,
    "timeout": check_timeout,
    "method": check_method,
    "args": check_arguments_tuple,
    "kwargs": check_keywords,
    "items": check_items,
    "xs": check_items,
    "tags": check_tags,
    "key": check_text,
    "queue": check_text,
    **{flag: check_flag for flag in ("force", "reuse_existing", "lazy", "keep_outputs", "include_stale", "all_versions", "split", "check", "wait", "progress")},
}


def checks_arguments(function: F, **overrides: Callable[[Any, str], Any]) -> F:
    """``function`` with its arguments checked by parameter name (:data:`CHECKS`, then ``overrides``).

    A parameter whose default is None may be None; any other value goes through its check, and
    the value the check returns (a canonical uuid) is what ``function`` receives.
    """
    signature = inspect.signature(function)
    checks = {**CHECKS, **overrides}
    parameters = signature.parameters
    positional = [name for name, p in parameters.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keywords = {name for name, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    # (position, name, check) of each checked positional parameter; arguments left out keep their defaults.
    by_position = [(i, name, checks[name]) for i, name in enumerate(positional) if name in checks]
    by_name = {name: checks[name] for name in keywords if name in checks}
    optional = {name for name, p in parameters.items() if p.default is None}

    def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if len(args) > len(positional) or not keywords.issuperset(kwargs):
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise ArgumentTypeError(f"{function.__qualname__}(): {exc}") from None
        if by_position and len(args) > by_position[0][0]:
            values = list(args)
            for i, name, rule in by_position:
                if i < len(values) and not (values[i] is None and name in optional):
                    values[i] = rule(values[i], name)
            args = tuple(values)
        for name, value in kwargs.items():
            if name in by_name and not (value is None and name in optional):
                kwargs[name] = by_name[name](value, name)
        return args, kwargs

    if inspect.iscoroutinefunction(function):

        @wraps(function)
        async def acall(*args: Any, **kwargs: Any) -> Any:
            args, kwargs = check(args, kwargs)
            return await function(*args, **kwargs)

        return acall  # type: ignore[return-value]

    @wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        args, kwargs = check(args, kwargs)
        return function(*args, **kwargs)

    return call  # type: ignore[return-value]
