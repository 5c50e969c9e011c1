"""How one thing names a stored component: pinned references, and selectors resolved at call time.

* A *reference string*, SuperDuperDB's ``&:component:<type_id>:<identifier>:<uuid>``, pins a
  uuid: it always means exactly one version. Records store references to their children, and
  compute tasks carry one, so a worker runs exactly the version the caller resolved.
* A :class:`Selector` says which version to use *when asked*: a uuid or a version (pinned), or an
  alias such as ``latest`` that the registry's resolver turns into a uuid at each call. A
  :class:`Resolved` is the answer: the uuid and version that serve this call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from superlite.common.arguments import check_identifier, check_type_id, check_uuid, decimal_digits
from superlite.errors import ConfigurationError

PREFIX = "&:component:"

#: The alias that always means the newest version.
LATEST = "latest"

#: What an alias name looks like.
ALIAS_PATTERN = re.compile(r"[a-z][a-z0-9_-]*")


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


#: How a stored record names a child that follows an alias: ``&:alias:<type_id>:<name>@<alias>``.
ALIAS_PREFIX = "&:alias:"


def alias_reference(type_id: str, name: str) -> str:
    """The string a record stores for a child following ``name`` (``"sentiment@production"``)."""
    return f"{ALIAS_PREFIX}{type_id}:{name}"


def is_alias_reference(value: object) -> bool:
    """Whether ``value`` is an alias reference string (see :func:`alias_reference`)."""
    return isinstance(value, str) and value.startswith(ALIAS_PREFIX)


def parse_alias_reference(value: str) -> tuple[str, str]:
    """``(type_id, "name@alias")`` of an alias reference string."""
    type_id, _, name = value[len(ALIAS_PREFIX) :].partition(":")
    if not is_alias_reference(value) or not type_id or "@" not in name:
        raise ConfigurationError(f"{value!r} is not an alias reference ({ALIAS_PREFIX}<type_id>:<name>@<alias>)")
    return type_id, name


@lru_cache(maxsize=4096)
def parse_reference(value: str) -> Reference:
    """Split a reference string into its parts; a malformed one raises ``ConfigurationError``.

    Each part is checked (:mod:`superlite.common.arguments`); answers are cached, since a
    caller's hot loop passes the same reference again and again.
    """
    if not is_reference(value):
        raise ConfigurationError(f"{value!r} is not a component reference ({PREFIX}<type_id>:<identifier>:<uuid>)")
    return _split_reference(value)


@lru_cache(maxsize=4096)
def _split_reference(value: str) -> Reference:
    """The parts of a reference string (cached: a worker parses the same few references on every task)."""
    type_id, sep, rest = value[len(PREFIX) :].partition(":")
    identifier, sep2, uuid = rest.rpartition(":")
    if not (sep and sep2 and type_id and identifier and uuid):
        raise ConfigurationError(f"{value!r} is not a component reference ({PREFIX}<type_id>:<identifier>:<uuid>)")
    return Reference(check_type_id(type_id, "reference type_id"), check_identifier(identifier, "reference identifier"),
                     check_uuid(uuid, "reference uuid"))


@dataclass(frozen=True)
class Selector:
    """Which version of ``(type_id, identifier)`` to use: by ``uuid``, by ``version``, or by ``alias``.

    At most one of the three is the selector's own choice (a uuid may come with the version it
    is known to have). ``pinned`` selectors always mean the same version; an alias is looked up
    again at every call, so a proxy holding one follows it.
    """

    type_id: str
    identifier: str
    uuid: str | None = None
    version: int | None = None
    alias: str | None = None

    @property
    def pinned(self) -> bool:
        """Whether this selector means one version for ever (a uuid or a version, no alias)."""
        return self.alias is None and (self.uuid is not None or self.version is not None)

    @classmethod
    def from_reference(cls, reference: str, version: int | None = None) -> Selector:
        """The selector pinned to the uuid a reference string names."""
        parsed = parse_reference(reference)
        return cls(parsed.type_id, parsed.identifier, uuid=parsed.uuid, version=version)

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{self.type_id} {self.identifier!r}@{self.alias}"
        if self.version is not None:
            return f"{self.type_id} {self.identifier!r} version {self.version}"
        if self.uuid is not None:
            return f"{self.type_id} {self.identifier!r} uuid {self.uuid}"
        return f"{self.type_id} {self.identifier!r}"


def split_name(name: str) -> tuple[str, str | None, int | None]:
    """``"sentiment@production"`` -> ``("sentiment", "production", None)``; ``"sentiment@3"`` -> version 3.

    A name without ``@`` selects nothing beyond the identifier: ``("sentiment", None, None)``.
    """
    identifier, at, suffix = name.rpartition("@")
    if not at:
        return name, None, None
    if decimal_digits(suffix):
        return identifier, None, int(suffix)
    if not ALIAS_PATTERN.fullmatch(suffix):
        raise ConfigurationError(
            f"{name!r}: {suffix!r} is neither a version number nor an alias name (aliases match {ALIAS_PATTERN.pattern})"
        )
    return identifier, suffix, None


@dataclass(frozen=True)
class Resolved:
    """The version that answers a call: what a :class:`Selector` resolved to.

    ``version`` is None when the caller pinned a bare uuid and nothing needed to look it up.
    """

    type_id: str
    identifier: str
    uuid: str
    version: int | None

    @property
    def reference(self) -> str:
        """The reference string pinning this version."""
        return str(Reference(self.type_id, self.identifier, self.uuid))
