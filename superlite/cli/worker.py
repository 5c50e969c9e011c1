"""``superlite worker``: serve the models of one database to a Celery queue."""

from __future__ import annotations

import sys

import click

from superlite.cli.app import CliState, main, reports_errors
from superlite.config import ENV_URI


@main.command()
@click.option("--uri", "worker_uri", envvar=ENV_URI, help=f"Database URI to serve models from (default: the group's --uri, ${ENV_URI}).")
@click.option("--broker", required=True, envvar="SUPERLITE_BROKER", help="Celery broker URL, e.g. redis://host:6379/0 or amqp://user:pw@host// ($SUPERLITE_BROKER).")
@click.option("--concurrency", type=click.IntRange(min=1), help="Pool processes (or threads); default: number of CPUs.")
@click.option("--queues", default="", help="Comma-separated queues to consume (default: superlite).")
@click.option("--cache-mb", type=click.FloatRange(min=0), default=1024, show_default=True, help="Model cache budget of each process, in MiB (measured model size, LRU eviction).")
@click.option("--cache-items", type=click.IntRange(min=1), default=32, show_default=True, help="At most this many models cached per process.")
@click.option("--pool", type=click.Choice(["prefork", "threads"]), default="prefork", show_default=True, help="prefork: one process per slot, isolated; threads: one shared model cache.")
@click.option("--visibility-timeout", type=click.FloatRange(min=1), help="Redis only: seconds before a task taken by a vanished worker is delivered again (default 120).")
@click.option("--path", "paths", multiple=True, type=click.Path(exists=True, file_okay=False, resolve_path=True), help="Directory to import model code from, before the working directory (repeatable).")
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
    paths: tuple[str, ...],
    loglevel: str,
) -> None:
    """Start a Celery worker that serves every model stored in the database (runs until stopped).

    The worker imports model code (classes, functions stored by reference) from each --path
    and from the directory it was started in, as "python -m" and "celery worker" do.
    """
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
            paths=paths,
        )
    )
