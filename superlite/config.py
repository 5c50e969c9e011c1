"""Settings: read once into a typed, immutable object and passed to whatever needs them.

There is no module-level mutable configuration. :func:`superlite.connect` builds a
:class:`Settings` from its arguments, falling back to environment variables, and the
:class:`~superlite.datalayer.Datalayer` owns it from then on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DIRECTORY = ".superlite"
DEFAULT_DATABASE_FILE = "superlite.db"

ENV_URI = "SUPERLITE_URI"
ENV_ARTIFACTS = "SUPERLITE_ARTIFACTS"
ENV_BROKER = "SUPERLITE_BROKER"

_USERINFO = re.compile(r"^(?P<scheme>[\w+.-]+://)(?P<user>[^:@/]*):(?P<password>[^@/]*)@")


def default_uri(cwd: Path | None = None) -> str:
    """The embedded default: a SQLite file under ``./.superlite/`` (created on demand)."""
    directory = (cwd or Path.cwd()) / DEFAULT_DIRECTORY
    return f"sqlite:///{directory / DEFAULT_DATABASE_FILE}"


def mask_uri(uri: str | None) -> str:
    """Return ``uri`` with any password replaced by ``***``, safe to print or log."""
    if not uri:
        return str(uri)
    return _USERINFO.sub(r"\g<scheme>\g<user>:***@", uri)


def uri_scheme(uri: str) -> str:
    """The scheme of ``uri`` (the part before ``://``), lower-cased; ``""`` when there is none."""
    head, sep, _ = uri.partition("://")
    return head.lower() if sep else ""


@dataclass(frozen=True)
class Settings:
    """Everything a :class:`~superlite.datalayer.Datalayer` is configured with.

    ``uri`` selects the metadata store (and, unless ``artifacts`` is set, the artifact store);
    ``broker`` selects Celery compute (``None`` keeps compute in-process); ``options`` carries
    extra, store- or compute-specific keyword arguments given to :func:`superlite.connect`.
    """

    uri: str
    artifacts: str | None = None
    broker: str | None = None
    options: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls,
        uri: str | None = None,
        *,
        artifacts: str | None = None,
        broker: str | None = None,
        environ: Mapping[str, str] | None = None,
        **options: object,
    ) -> Settings:
        """Build settings from explicit arguments, then ``$SUPERLITE_*`` variables, then defaults."""
        env = os.environ if environ is None else environ
        return cls(
            uri=uri or env.get(ENV_URI) or default_uri(),
            artifacts=artifacts or env.get(ENV_ARTIFACTS) or None,
            broker=broker or env.get(ENV_BROKER) or None,
            options=dict(options),
        )
