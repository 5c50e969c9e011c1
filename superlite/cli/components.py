"""``superlite show|info|remove|predict``: inspect, remove and run stored components."""

from __future__ import annotations

import json

import click

from superlite.cli.app import CliState, echo_json, main, reports_errors
from superlite.serialization.wire import CODEC
from superlite.stores.base import ComponentRecord


@main.command()
@click.argument("type_id", required=False)
@click.argument("identifier", required=False)
@click.option("--long", "long_", is_flag=True, help="With TYPE_ID: each version's uuid, time and metadata (tags, metrics, ...).")
@click.pass_obj
@reports_errors
def show(state: CliState, type_id: str | None, identifier: str | None, long_: bool) -> None:
    """List types and identifiers, one type's identifiers, or one identifier's versions."""
    if long_ and type_id is None:
        raise click.UsageError("--long needs a TYPE_ID (e.g. superlite show model --long)")
    with state.datalayer(create=False) as db:
        if not long_:
            echo_json(db.show(type_id, identifier))
            return
        identifiers = [identifier] if identifier is not None else db.show(type_id)
        echo_json({name: [_summary(db.record(type_id, name, v)) for v in db.show(type_id, name)] for name in identifiers})


def _summary(record: ComponentRecord) -> dict[str, object]:
    return {"version": record.version, "uuid": record.uuid, "created_at": record.to_dict()["created_at"], **record.info}


@main.command()
@click.argument("type_id")
@click.argument("identifier")
@click.argument("tags", nargs=-1, required=True)
@click.option("--version", "version", type=int, help="Version number (default: the latest).")
@click.pass_obj
@reports_errors
def tag(state: CliState, type_id: str, identifier: str, tags: tuple[str, ...], version: int | None) -> None:
    """Set tags on a version: NAME=VALUE sets one, NAME= deletes it. Prints the version's tags."""
    changes: dict[str, str | None] = {}
    for item in tags:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: write NAME=VALUE (or NAME= to delete)", param_hint="TAGS")
        changes[name] = value or None
    with state.datalayer(create=False) as db:
        echo_json(db.set_tags(type_id, identifier, version=version, tags=changes))


@main.command()
@click.argument("type_id")
@click.option("--tag", "tags", multiple=True, metavar="NAME=VALUE", help="Only versions with this tag (repeatable).")
@click.pass_obj
@reports_errors
def search(state: CliState, type_id: str, tags: tuple[str, ...]) -> None:
    """List the versions of TYPE_ID whose tags match every --tag, with their metadata."""
    wanted = {}
    for item in tags:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: write NAME=VALUE", param_hint="--tag")
        wanted[name] = value
    with state.datalayer(create=False) as db:
        echo_json([
            {"identifier": r["identifier"], "version": r["version"], "uuid": r["uuid"], **r["info"]}  # type: ignore[dict-item]
            for r in db.search(type_id, tags=wanted)
        ])


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
