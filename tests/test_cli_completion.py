"""Shell completion: the script ``superlite completion SHELL`` prints, and the completions it asks for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from superlite.testing.cli import run_cli

SUPERLITE = Path(sys.executable).with_name("superlite")


def complete(*words: str) -> list[str]:
    """What bash completion offers for the last of ``words`` (the installed ``superlite`` script, as bash runs it)."""
    env = {
        **os.environ, "COMP_WORDS": " ".join(words), "COMP_CWORD": str(len(words) - 1), "_SUPERLITE_COMPLETE": "bash_complete",
    }
    done = subprocess.run([str(SUPERLITE)], env=env, capture_output=True, text=True, timeout=60, check=True)
    return [line.split(",", 1)[1] for line in done.stdout.splitlines()]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_script_for_each_shell(shell: str) -> None:
    printed = run_cli("completion", shell)
    assert printed.returncode == 0, printed.stderr
    assert "_SUPERLITE_COMPLETE" in printed.stdout


def test_commands_and_options_complete() -> None:
    if not SUPERLITE.exists():
        pytest.fail(f"the superlite script is not installed next to {sys.executable}: pip install -e .")
    assert "show" in complete("superlite", "sh")
    assert "--long" in complete("superlite", "show", "--l")
    assert {"export", "import", "tag", "completion"} <= set(complete("superlite", ""))


def test_an_unknown_shell_is_refused() -> None:
    refused = run_cli("completion", "tcsh")
    assert refused.returncode == 2 and "tcsh" in refused.stderr
