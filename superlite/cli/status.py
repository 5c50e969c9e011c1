"""``superlite status``: the serving processes that report to the database."""

from __future__ import annotations

import click

from superlite.cli.app import CliState, echo_json, main, reports_errors


@main.command()
@click.option("--all", "include_stale", is_flag=True, help="Also list stale workers (missed three heartbeats: presumed dead).")
@click.pass_obj
@reports_errors
def status(state: CliState, include_stale: bool) -> None:
    """Print live workers as JSON: host, pid, queues, follows, loaded models, readiness, heartbeat age."""
    with state.datalayer() as db:
        echo_json(db.workers(include_stale=include_stale))
