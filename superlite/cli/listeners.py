"""``superlite listen`` (follow every listener's table) and ``superlite listeners`` (their lag)."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from typing import Any

import click

from superlite.cli.app import CliState, echo_json, main, reports_errors


@main.command()
@click.option("--broker", envvar="SUPERLITE_BROKER", help="Compute outputs on Celery workers behind this broker.")
@click.option("--interval", type=click.FloatRange(min=0.01), default=0.1, show_default=True, help="Seconds between looks for changes (PostgreSQL wakes at once on NOTIFY).")
@click.option("--once", is_flag=True, help="Catch every listener up once, then exit.")
@click.pass_obj
@reports_errors
def listen(state: CliState, broker: str | None, interval: float, once: bool) -> None:
    """Follow the tables of every listener and keep their outputs current (runs until stopped).

    Several may run against one database: each listener is processed by one of them at a time.
    """
    from superlite.listeners.runner import ListenerRunner

    stopping = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with state.datalayer(broker=broker, create=False) as db:
        runner = ListenerRunner(db)
        if once:
            for identifier in db.show("listener"):
                click.echo(f"{identifier}: {runner.catch_up(identifier)}")
            return
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        click.echo(f"listening on {db!r}", err=True)
        gc.freeze()  # a long-running process: its startup heap need not be scanned at every full collection
        runner.follow(interval=interval, stop=stopping.is_set)


@main.command(name="listeners")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
@reports_errors
def listeners(state: CliState, as_json: bool) -> None:
    """Show each listener's lag (pending changes, oldest pending age), errors and throughput."""
    from superlite.listeners.runner import ListenerRunner

    with state.datalayer(create=False) as db:
        rows = [status.as_dict() for status in ListenerRunner(db).status()]
    if as_json:
        echo_json(rows)
        return
    header = ("listener", "model", "version", "pending", "oldest (s)", "back-fill left", "errors", "processed", "rows/s")
    table = [header] + [
        (
            row["listener"], row["model"], _text(row["model_version"]), str(row["pending"]),
            _text(row["oldest_pending_seconds"]), str(row["backfill_remaining"]), str(row["errors"]),
            str(row["processed"]), _text(row["rows_per_second"]),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


def _text(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)
