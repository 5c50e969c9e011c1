"""The ``superlite`` command line: inspect, remove and run stored components.

Every command takes ``--uri`` (default ``$SUPERLITE_URI``, else the embedded SQLite file).
Errors print one line to stderr and exit non-zero; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click

from superlite.config import ENV_URI
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
    """Turn superlite errors into a one-line message and exit code 1 (traceback with --debug)."""

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
            click.echo(f"error: {one_line(exc)}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper  # type: ignore[return-value]


def one_line(exc: BaseException) -> str:
    """The first line of an error message, prefixed by its type unless it is a superlite error."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    if isinstance(exc, SuperliteError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def echo_json(value: object) -> None:
    """Print ``value`` as indented JSON."""
    click.echo(json.dumps(value, indent=2, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--uri", envvar=ENV_URI, help=f"Database URI (default ${ENV_URI}, else ./.superlite/superlite.db).")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="superlite")
@click.pass_context
def main(ctx: click.Context, uri: str | None, debug: bool) -> None:
    """superlite: versioned ML models in your database, served in-process or on workers."""
    ctx.obj = CliState(uri, debug)


@main.command()
@click.argument("type_id", required=False)
@click.argument("identifier", required=False)
@click.pass_obj
@reports_errors
def show(state: CliState, type_id: str | None, identifier: str | None) -> None:
    """List types and identifiers, one type's identifiers, or one identifier's versions."""
    with state.datalayer() as db:
        echo_json(db.show(type_id, identifier))


@main.command()
@click.argument("type_id")
@click.argument("identifier")
@click.option("--version", "version", type=int, help="Version number (default: the latest).")
@click.pass_obj
@reports_errors
def info(state: CliState, type_id: str, identifier: str, version: int | None) -> None:
    """Print the stored record of one component version as JSON."""
    with state.datalayer() as db:
        echo_json(db.record(type_id, identifier, version).to_dict())


@main.command()
@click.argument("type_id")
@click.argument("identifier")
@click.option("--version", "version", type=int, help="Remove only this version (default: every version).")
@click.option("--force", is_flag=True, help="Remove even if other components depend on it.")
@click.pass_obj
@reports_errors
def remove(state: CliState, type_id: str, identifier: str, version: int | None, force: bool) -> None:
    """Remove a component (one version or all) and free its unused artifacts. Never prompts."""
    with state.datalayer() as db:
        removed = db.remove(type_id, identifier, version=version, force=force)
    for record in removed:
        click.echo(f"removed {record.type_id} {record.identifier!r} version {record.version} ({record.uuid})")


@main.command()
@click.argument("identifier")
@click.option("--input", "input_json", required=True, help="The model input, as JSON.")
@click.option("--version", "version", type=int, help="Version number (default: the latest).")
@click.option("--broker", envvar="SUPERLITE_BROKER", help="Run on Celery workers behind this broker.")
@click.option("--queue", help="With --broker: the queue to send to (default: superlite).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="With --broker: seconds to wait for a worker.")
@click.pass_obj
@reports_errors
def predict(
    state: CliState,
    identifier: str,
    input_json: str,
    version: int | None,
    broker: str | None,
    queue: str | None,
    timeout: float | None,
) -> None:
    """Predict one input with a stored model and print the result as JSON."""
    try:
        value = json.loads(input_json)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--input") from exc
    remote = {name: option for name, option in (("queue", queue), ("timeout", timeout)) if option is not None}
    if remote and not broker:
        raise click.UsageError("--queue and --timeout need --broker (or $SUPERLITE_BROKER)")
    with state.datalayer(broker=broker, **remote) as db:
        echo_json(db.load("model", identifier, version=version).predict(value))



@main.command()
@click.option("--uri", "worker_uri", envvar=ENV_URI, help=f"Database URI to serve models from (default: the group's --uri, ${ENV_URI}).")
@click.option("--broker", required=True, envvar="SUPERLITE_BROKER", help="Celery broker URL, e.g. redis://host:6379/0 or amqp://user:pw@host// ($SUPERLITE_BROKER).")
@click.option("--concurrency", type=click.IntRange(min=1), help="Pool processes (or threads); default: number of CPUs.")
@click.option("--queues", default="", help="Comma-separated queues to consume (default: superlite).")
@click.option("--cache-mb", type=click.FloatRange(min=0), default=1024, show_default=True, help="Model cache budget of each process, in MiB (measured model size, LRU eviction).")
@click.option("--cache-items", type=click.IntRange(min=1), default=32, show_default=True, help="At most this many models cached per process.")
@click.option("--pool", type=click.Choice(["prefork", "threads"]), default="prefork", show_default=True, help="prefork: one process per slot, isolated; threads: one shared model cache.")
@click.option("--visibility-timeout", type=click.FloatRange(min=1), help="Redis only: seconds before a task taken by a vanished worker is delivered again (default 120).")
@click.option("--loglevel", default="INFO", show_default=True, type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False), help="Log level of the worker.")
@click.pass_obj
@reports_errors
def worker(
    state: CliState,
    worker_uri: str | None,
    broker: str,
    concurrency: int | None,
    queues: str,
    cache_mb: float,
    cache_items: int,
    pool: str,
    visibility_timeout: float | None,
    loglevel: str,
) -> None:
    """Start a Celery worker that serves every model stored in the database (runs until stopped)."""
    from superlite.compute.celery.worker import run_worker
    from superlite.config import Settings

    settings = Settings.resolve(worker_uri or state.uri, broker=broker, visibility_timeout=visibility_timeout)
    names = [name.strip() for name in queues.split(",") if name.strip()]
    sys.exit(
        run_worker(
            settings,
            concurrency=concurrency,
            queues=names,
            cache_mb=cache_mb,
            cache_items=cache_items,
            loglevel=loglevel.upper(),
            pool=pool,
        )
    )
