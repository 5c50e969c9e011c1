"""``superlite completion bash|zsh|fish``: the shell completion script (click's own)."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from superlite.cli.app import main

#: The variable click reads to complete instead of running a command.
COMPLETE_VAR = "_SUPERLITE_COMPLETE"


@main.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL. Install it with, for bash:

    superlite completion bash > ~/.superlite-complete.bash; echo '. ~/.superlite-complete.bash' >> ~/.bashrc
    """
    completer = get_completion_class(shell)
    if completer is None:
        raise click.UsageError(f"click has no completion for {shell}")
    click.echo(completer(main, {}, "superlite", COMPLETE_VAR).source())
