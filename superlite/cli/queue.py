"""``superlite queue show|purge``: what waits in a Celery queue, and clearing it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from superlite.cli.app import CliState, echo_json, main, reports_errors
from superlite.config import ENV_BROKER

if TYPE_CHECKING:
    from superlite.compute.celery.compute import CeleryCompute

_BROKER = click.option("--broker", required=True, envvar=ENV_BROKER, help=f"Celery broker URL (${ENV_BROKER}).")
_QUEUE = click.option("--queue", help="The queue (default: superlite).")


@contextmanager
def _compute(state: CliState, broker: str, queue: str | None) -> Iterator[CeleryCompute]:
    from superlite.compute.celery.compute import CeleryCompute
    from superlite.config import Settings

    compute = CeleryCompute(Settings.resolve(state.uri, broker=broker, queue=queue))
    try:
        yield compute
    finally:
        compute.close()


@main.group()
def queue() -> None:
    """Inspect or clear the Celery queue that superlite workers consume."""


@queue.command()
@_BROKER
@_QUEUE
@click.pass_obj
@reports_errors
def show(state: CliState, broker: str, queue: str | None) -> None:
    """Print the queue's waiting tasks, the age of the oldest (Redis only) and its workers, as JSON."""
    with _compute(state, broker, queue) as compute:
        age = compute.oldest_age()
        echo_json(
            {
                "queue": compute.queue,
                "broker": compute.broker,
                "waiting": compute.queue_length(),
                "oldest_waiting_seconds": None if age is None else round(age, 3),
                "workers": compute.consumers(),
            }
        )


@queue.command()
@_BROKER
@_QUEUE
@click.pass_obj
@reports_errors
def purge(state: CliState, broker: str, queue: str | None) -> None:
    """Delete every task waiting in the queue (tasks already running finish). Never prompts."""
    with _compute(state, broker, queue) as compute:
        count = compute.purge()
        click.echo(f"purged {count} task(s) from queue {compute.queue!r}")
