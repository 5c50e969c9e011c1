"""Reference strings: how one stored component names another.

The format is SuperDuperDB's, ``&:component:<type_id>:<identifier>:<uuid>``. It pins a uuid,
so a reference always means exactly one version.
"""

from __future__ import annotations

from dataclasses import dataclass

from superlite.errors import ConfigurationError

PREFIX = "&:component:"


@dataclass(frozen=True)
class Reference:
    """A parsed reference string."""

    type_id: str
    identifier: str
    uuid: str

    def __str__(self) -> str:
        return f"{PREFIX}{self.type_id}:{self.identifier}:{self.uuid}"


def is_reference(value: object) -> bool:
    """Whether ``value`` is a reference string."""
    return isinstance(value, str) and value.startswith(PREFIX)


def parse_reference(value: str) -> Reference:
    """Split a reference string into its parts; a malformed one raises ``ConfigurationError``."""
    if not is_reference(value):
        raise ConfigurationError(f"{value!r} is not a component reference ({PREFIX}<type_id>:<identifier>:<uuid>)")
    type_id, sep, rest = value[len(PREFIX):].partition(":")
    identifier, sep2, uuid = rest.rpartition(":")
    if not (sep and sep2 and type_id and identifier and uuid):
        raise ConfigurationError(f"{value!r} is not a component reference ({PREFIX}<type_id>:<identifier>:<uuid>)")
    return Reference(type_id, identifier, uuid)
