"""The ``superlite`` command line: one module per group of commands, all on :data:`main`.

``app`` holds the group and what every command shares (``--uri``, error reporting, JSON output);
each other module adds its commands to the group when imported here.
"""

from superlite.cli import (  # noqa: F401  (they register their commands)
    completion,
    components,
    db,
    dev,
    lifecycle,
    listeners,
    queue,
    security,
    serve,
    status,
    transfer,
    worker,
)
from superlite.cli.app import main

__all__ = ["main"]
