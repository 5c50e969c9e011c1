"""``superlite db current|upgrade`` and ``superlite changes``: the schema and the change feed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

import click

from superlite.cli.app import CliState, main, reports_errors
from superlite.config import Settings
from superlite.stores.base import MetadataStore, SchemaStatus


@main.group()
def db() -> None:
    """Inspect and upgrade the database's superlite schema."""


def _set_uri(ctx: click.Context, _param: click.Parameter, uri: str | None) -> None:
    if uri:
        ctx.ensure_object(CliState).uri = uri


_uri_option = click.option(
    "--uri", expose_value=False, callback=_set_uri, help="Database URI (also accepted before `db`)."
)


@contextmanager
def _metadata_store(state: CliState) -> Iterator[MetadataStore]:
    """The metadata store on ``--uri``, opened without upgrading it."""
    from superlite.stores.registry import open_database

    bundle = open_database(Settings.resolve(state.uri, auto_upgrade=False))
    bundle.artifacts.close()
    try:
        yield bundle.metadata
    finally:
        bundle.metadata.close()


def _echo_status(status: SchemaStatus) -> None:
    click.echo(f"current: {status.current or '(empty database)'}")
    click.echo(f"head:    {status.head}")
    click.echo(f"pending: {' '.join(status.pending) or '(none)'}")


@db.command()
@_uri_option
@click.pass_obj
@reports_errors
def current(state: CliState) -> None:
    """Print the database's schema revision, this release's newest, and what is pending."""
    with _metadata_store(state) as store:
        _echo_status(store.schema_status())


@db.command()
@_uri_option
@click.pass_obj
@reports_errors
def upgrade(state: CliState) -> None:
    """Run the pending schema migrations (safe while other processes use the database)."""
    with _metadata_store(state) as store:
        before = store.schema_status()
        after = store.upgrade()
    if before.pending:
        click.echo(f"upgraded from {before.current or '(empty database)'} to {after.current}")
    else:
        click.echo(f"already at {after.current}")
    _echo_status(after)


@main.command()
@click.option("--since", type=click.IntRange(min=0), default=0, show_default=True, help="Print changes after this id.")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True, help="Print at most this many.")
@click.pass_obj
@reports_errors
def changes(state: CliState, since: int, limit: int) -> None:
    """Print the change feed (applies, removals) after ``--since``, one JSON object per line."""
    with state.datalayer() as datalayer:
        events = datalayer.changes(since, limit)
    for event in events:
        click.echo(json.dumps(asdict(event), default=str))
