"""``superlite keygen`` and ``superlite db sign``: signing keys and key rotation (docs/security.md)."""

from __future__ import annotations

import click

from superlite.cli.app import CliState, echo_json, main, reports_errors
from superlite.cli.db import _uri_option, db


@main.command()
@click.option(
    "--algorithm", type=click.Choice(["hmac", "ed25519"]), default="hmac", show_default=True,
    help="hmac: one shared secret signs and verifies. ed25519: a private key signs, a public key verifies.",
)
@reports_errors
def keygen(algorithm: str) -> None:
    """Print a new signing key (and, for ed25519, the public key workers verify with).

    Put the signing key in $SUPERLITE_SIGNING_KEY where components are applied; give workers
    the verification key in $SUPERLITE_VERIFY_KEYS (for hmac it is the same secret).
    """
    from superlite.security import generate_key

    signing, verify = generate_key(algorithm)
    click.echo(f"SUPERLITE_SIGNING_KEY={signing}")
    click.echo(f"SUPERLITE_VERIFY_KEYS={verify}")


@db.command()
@_uri_option
@click.option("--unsigned", is_flag=True, help="Also sign records that have no signature (only if you trust them).")
@click.pass_obj
@reports_errors
def sign(state: CliState, unsigned: bool) -> None:
    """Sign again with $SUPERLITE_SIGNING_KEY every record signed by a key of $SUPERLITE_VERIFY_KEYS.

    The middle step of a key rotation. Prints, as JSON, the records signed, kept (already
    signed with the signing key), left unsigned, and invalid (their signature does not verify).
    """
    with state.datalayer(broker=None, create=False) as datalayer:
        echo_json(datalayer.sign_records(unsigned=unsigned))
