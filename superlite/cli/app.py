"""The ``superlite`` command group and what every command shares: options, errors, JSON output.

Every command takes ``--uri`` (default ``$SUPERLITE_URI``, else the embedded SQLite file).
Errors print one line to stderr and exit non-zero; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click

from superlite.common.uris import scrub
from superlite.config import ENV_BROKER, ENV_URI
from superlite.errors import SuperliteError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 1


class CliState:
    """Options of the top-level group, passed to every command."""

    def __init__(self, uri: str | None, debug: bool) -> None:
        self.uri = uri
        self.debug = debug

    @contextmanager
    def datalayer(self, **kwargs: Any) -> Iterator[Any]:
        """A Datalayer on ``--uri``, closed when the command ends."""
        from superlite.datalayer import connect

        with connect(self.uri, **kwargs) as db:
            yield db


def reports_errors(command: F) -> F:
    """Turn superlite errors into a one-line message and exit code 1 (traceback with --debug).

    Any password of the command's URIs (``--uri``, ``--broker``, ...) that a driver's error
    quotes is replaced by ``***`` in the message.
    """

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = click.get_current_context().find_object(CliState)
        try:
            return command(*args, **kwargs)
        except click.ClickException:
            raise
        except Exception as exc:
            if state is not None and state.debug:
                raise
            uris = [state.uri if state else None, *os.environ.get(ENV_BROKER, "").split(), *map(str, kwargs.values())]
            click.echo(f"error: {scrub(one_line(exc), uris)}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper  # type: ignore[return-value]


def one_line(exc: BaseException) -> str:
    """The first line of an error message, prefixed by its type unless it is a superlite error.

    Control characters are escaped (:func:`printable`), so a name quoted in the message can
    neither clear the terminal nor forge a line.
    """
    text = printable(str(exc).splitlines()[0]) if str(exc) else ""
    if isinstance(exc, SuperliteError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def printable(text: str) -> str:
    r"""``text`` with every non-printable character (ESC, CR, NUL, U+2028, ...) escaped: ``\x1b``, ``\u2028``."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


def strict_json(value: object) -> object:
    """``value`` with NaN and infinities (which JSON cannot carry) replaced by None, at any depth."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


def echo_json(value: object) -> None:
    """Print ``value`` as indented, strict JSON: control characters escaped, NaN and infinities as null."""
    click.echo(json.dumps(strict_json(value), indent=2, default=str, allow_nan=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--uri", envvar=ENV_URI, help=f"Database URI (default ${ENV_URI}, else ./.superlite/superlite.db).")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="superlite")
@click.pass_context
def main(ctx: click.Context, uri: str | None, debug: bool) -> None:
    """superlite: versioned ML models in your database, served in-process or on workers."""
    ctx.obj = CliState(uri, debug)
