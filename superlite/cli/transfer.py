"""``superlite export|import|copy``: move component versions between databases (a portable archive)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from superlite.cli.app import CliState, echo_json, main, reports_errors


def _summary(records: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{key: r[key] for key in ("type_id", "identifier", "version", "uuid")} for r in records]


@main.command("export")
@click.argument("type_id")
@click.argument("identifier")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True, help="The archive to write (.slz).")
@click.option("--version", "version", type=int, help="Version number (default: the latest).")
@click.option("--all-versions", is_flag=True, help="Every version of IDENTIFIER.")
@click.pass_obj
@reports_errors
def export_command(state: CliState, type_id: str, identifier: str, output: str, version: int | None, all_versions: bool) -> None:
    """Write a version, what it depends on and its artifacts to a portable archive. Prints what it wrote."""
    if version is not None and all_versions:
        raise click.UsageError("give --version or --all-versions, not both")
    with state.datalayer(create=False) as db:
        echo_json(_summary(db.export(type_id, identifier, output, version=version, all_versions=all_versions)))


@main.command("import")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
@reports_errors
def import_command(state: CliState, archive: str) -> None:
    """Store an archive's versions in --uri (digests and clashes checked first). Prints what it added."""
    with state.datalayer() as db:
        echo_json(_summary(db.import_(archive)))


@main.command("copy")
@click.argument("type_id")
@click.argument("identifier")
@click.option("--from", "source", required=True, help="The database to copy from (a superlite URI).")
@click.option("--to", "target", required=True, help="The database to copy to (created if needed).")
@click.option("--version", "version", type=int, help="Version number (default: the latest).")
@click.option("--all-versions", is_flag=True, help="Every version of IDENTIFIER.")
@reports_errors
def copy_command(type_id: str, identifier: str, source: str, target: str, version: int | None, all_versions: bool) -> None:
    """Copy a version (and what it depends on) from one database to another, uuids kept. Prints what it added."""
    from superlite.datalayer import connect

    with tempfile.TemporaryDirectory(prefix="superlite-copy-") as tmp:
        archive = Path(tmp) / "copy.slz"
        with connect(source, broker=None, create=False) as origin:
            origin.export(type_id, identifier, archive, version=version, all_versions=all_versions)
        with connect(target, broker=None) as destination:
            echo_json(_summary(destination.import_(archive)))
