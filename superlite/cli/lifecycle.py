"""``superlite alias|canary|promote|rollback|deploy``: move aliases, run canaries, roll back, deploy files.

Every command acts on a model (``--type`` for other components) and prints the alias's new
state as JSON; ``alias history`` prints the recorded changes, newest first.
"""

from __future__ import annotations

import click

from superlite.cli.app import CliState, echo_json, main, reports_errors

_TYPE = click.option("--type", "type_id", default="model", show_default=True, help="Component type.")
_WHY = click.option("--why", help="Why: recorded in the alias's history.")
_SWAP = click.option(
    "--swap-timeout", type=click.FloatRange(min=0.001),
    help="Seconds to wait for workers following the alias to load and warm the new target (default 60).",
)


@main.group()
def alias() -> None:
    """Set, show, remove aliases (production, staging, ...) and read their history."""


@alias.command("set")
@click.argument("identifier")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=0))
@_TYPE
@_WHY
@_SWAP
@click.pass_obj
@reports_errors
def set_(
    state: CliState, identifier: str, name: str, version: int, type_id: str, why: str | None, swap_timeout: float | None
) -> None:
    """Point alias NAME of IDENTIFIER at VERSION (creating it; a running canary ends).

    Waits for live workers following the alias to load and warm VERSION first (docs/lifecycle.md).
    """
    with state.datalayer(swap_timeout=swap_timeout) as db:
        echo_json(db.set_alias(type_id, identifier, name, version=version, why=why))


@alias.command("show")
@click.argument("identifier")
@_TYPE
@click.pass_obj
@reports_errors
def show_(state: CliState, identifier: str, type_id: str) -> None:
    """Print every alias of IDENTIFIER with its target, canary and previous version."""
    with state.datalayer() as db:
        echo_json(db.aliases(type_id, identifier))


@alias.command("remove")
@click.argument("identifier")
@click.argument("name")
@_TYPE
@_WHY
@click.pass_obj
@reports_errors
def remove_(state: CliState, identifier: str, name: str, type_id: str, why: str | None) -> None:
    """Delete alias NAME of IDENTIFIER."""
    with state.datalayer() as db:
        db.remove_alias(type_id, identifier, name, why=why)
    click.echo(f"removed alias {name!r} of {type_id} {identifier!r}")


@alias.command("history")
@click.argument("identifier")
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="How many changes.")
@_TYPE
@click.pass_obj
@reports_errors
def history(state: CliState, identifier: str, name: str | None, limit: int, type_id: str) -> None:
    """Print the alias changes of IDENTIFIER (of alias NAME only, if given), newest first."""
    with state.datalayer() as db:
        echo_json(db.alias_history(type_id, identifier, name, limit=limit))


@main.command()
@click.argument("identifier")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=0))
@click.option("--percent", type=click.IntRange(1, 99), required=True, help="Share of requests for VERSION.")
@_TYPE
@_WHY
@_SWAP
@click.pass_obj
@reports_errors
def canary(
    state: CliState, identifier: str, name: str, version: int, percent: int, type_id: str, why: str | None,
    swap_timeout: float | None,
) -> None:
    """Send PERCENT of alias NAME's requests to VERSION; the rest stay on its target."""
    with state.datalayer(swap_timeout=swap_timeout) as db:
        echo_json(db.start_canary(type_id, identifier, name, version=version, percent=percent, why=why))


@main.command()
@click.argument("identifier")
@click.argument("name")
@_TYPE
@_WHY
@click.pass_obj
@reports_errors
def promote(state: CliState, identifier: str, name: str, type_id: str, why: str | None) -> None:
    """Move alias NAME to its canary version: all traffic goes there and the canary ends."""
    with state.datalayer() as db:
        echo_json(db.promote(type_id, identifier, name, why=why))


@main.command()
@click.argument("identifier")
@click.argument("name")
@_TYPE
@_WHY
@_SWAP
@click.pass_obj
@reports_errors
def rollback(state: CliState, identifier: str, name: str, type_id: str, why: str | None, swap_timeout: float | None) -> None:
    """End alias NAME's canary if one runs; otherwise move it back to its previous version."""
    with state.datalayer(swap_timeout=swap_timeout) as db:
        echo_json(db.rollback(type_id, identifier, name, why=why))


@main.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--check", is_flag=True, help="Validate FILE and print the moves it would make; change nothing.")
@click.option("--rollback", "rollback_name", metavar="NAME", help="Apply deployment NAME as it was one version ago.")
@click.option("--to-version", type=click.IntRange(min=0), help="With --rollback: the deployment version to apply.")
@_WHY
@_SWAP
@click.pass_obj
@reports_errors
def deploy(
    state: CliState, file: str | None, check: bool, rollback_name: str | None, to_version: int | None, why: str | None,
    swap_timeout: float | None,
) -> None:
    """Apply a deployment FILE (JSON or YAML): each model's aliases and canary, as declared.

    Prints the moves made and the stored deployment version. See docs/lifecycle.md.
    """
    if (file is None) == (rollback_name is None):
        raise click.UsageError("give a deployment FILE, or --rollback NAME")
    if to_version is not None and rollback_name is None:
        raise click.UsageError("--to-version goes with --rollback NAME")
    with state.datalayer(swap_timeout=swap_timeout) as db:
        if rollback_name is not None:
            echo_json(db.rollback_deployment(rollback_name, to_version))
        else:
            echo_json(db.deploy(file, check=check, why=why))  # type: ignore[arg-type]
