"""``superlite show|info|remove|predict``: inspect, remove and run stored components."""

from __future__ import annotations

import json

import click

from superlite.cli.app import CliState, echo_json, main, reports_errors
from superlite.serialization.wire import CODEC


@main.command()
@click.argument("type_id", required=False)
@click.argument("identifier", required=False)
@click.pass_obj
@reports_errors
def show(state: CliState, type_id: str | None, identifier: str | None) -> None:
    """List types and identifiers, one type's identifiers, or one identifier's versions."""
    with state.datalayer(create=False) as db:
        echo_json(db.show(type_id, identifier))


@main.command()
@click.argument("type_id")
@click.argument("identifier")
@click.option("--version", "version", type=int, help="Version number (default: the latest).")
@click.pass_obj
@reports_errors
def info(state: CliState, type_id: str, identifier: str, version: int | None) -> None:
    """Print the stored record of one component version as JSON."""
    with state.datalayer(create=False) as db:
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
    with state.datalayer(create=False) as db:
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
    with state.datalayer(broker=broker, create=False, **remote) as db:
        result = db.load("model", identifier, version=version).predict(value)
    echo_json(CODEC.to_plain_json(result))
