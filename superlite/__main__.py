"""``python -m superlite`` runs the command line."""

from superlite.cli import main

main(prog_name="superlite")
