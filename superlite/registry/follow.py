"""What a serving worker keeps loaded: ``--follow`` targets, version policies, and who is alive.

A follow spec is ``type_id:identifier[@alias]``; the identifier may be a glob (``model:*@latest``).
With an alias, the worker keeps the alias's target and canary loaded (and, during a two-phase
move, its pending target). Without one, a :class:`VersionPolicy` chooses the versions, as TF
Serving's ``model_version_policy`` does: ``latest:N`` (the newest N, default 1), ``all``, or
``versions:3,4``.

Workers write a heartbeat row every ``heartbeat_interval`` seconds; :func:`is_alive` says
whether a row is recent enough to count (see :data:`STALE_AFTER_BEATS`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from superlite.components.reference import ALIAS_PATTERN, LATEST
from superlite.errors import ConfigurationError
from superlite.stores.base import WorkerStatus

#: A worker whose last heartbeat is older than this many of its heartbeat intervals is stale
#: (presumed dead): it is not listed as live and a swap stops waiting for it.
STALE_AFTER_BEATS = 3

#: ...and never sooner than this many seconds (a busy database may delay one heartbeat write).
STALE_MIN_SECONDS = 1.0


@dataclass(frozen=True)
class FollowSpec:
    """One ``--follow`` entry: which components (a glob on the identifier) and which alias, if any."""

    type_id: str
    pattern: str
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> FollowSpec:
        """``"model:sentiment@production"``, ``"model:*@latest"`` or ``"model:sentiment"``."""
        type_id, colon, rest = text.partition(":")
        pattern, at, alias = rest.partition("@")
        if not colon or not type_id or not pattern or (at and not ALIAS_PATTERN.fullmatch(alias)):
            raise ConfigurationError(
                f"--follow takes type:identifier[@alias] (the identifier may be a glob such as *), not {text!r}"
            )
        return cls(type_id, pattern, alias or None)

    def matches(self, type_id: str, identifier: str, alias: str | None = None) -> bool:
        """Whether this spec covers ``identifier`` (and, when given, follows ``alias``)."""
        if type_id != self.type_id or not fnmatch.fnmatchcase(identifier, self.pattern):
            return False
        return alias is None or alias == self.alias

    @property
    def is_glob(self) -> bool:
        """Whether the identifier part is a pattern rather than one name."""
        return any(char in self.pattern for char in "*?[")

    def __str__(self) -> str:
        return f"{self.type_id}:{self.pattern}" + (f"@{self.alias}" if self.alias else "")


@dataclass(frozen=True)
class VersionPolicy:
    """Which versions a follow spec without an alias keeps loaded (TF Serving's version policy)."""

    kind: str = "latest"
    count: int = 1
    versions: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> VersionPolicy:
        """``"latest:N"`` (or ``"latest"``), ``"all"`` or ``"versions:3,4"``."""
        kind, _, argument = text.partition(":")
        try:
            if kind == "latest":
                count = int(argument) if argument else 1
                if count >= 1:
                    return cls("latest", count)
            elif kind == "all" and not argument:
                return cls("all")
            elif kind == "versions":
                versions = tuple(int(v) for v in argument.split(","))
                if versions and min(versions) >= 0:
                    return cls("versions", versions=versions)
        except ValueError:
            pass
        raise ConfigurationError(f"--policy takes latest:N, all or versions:V1,V2,... (versions are >= 0), not {text!r}")

    def choose(self, available: Sequence[int]) -> list[int]:
        """The versions to keep loaded, out of the stored ``available`` ones."""
        ordered = sorted(available)
        if self.kind == "all":
            return ordered
        if self.kind == "versions":
            return [v for v in ordered if v in self.versions]
        return ordered[-self.count :]

    def __str__(self) -> str:
        if self.kind == "versions":
            return "versions:" + ",".join(str(v) for v in self.versions)
        return "all" if self.kind == "all" else f"latest:{self.count}"


def stale_after(status: WorkerStatus) -> float:
    """Seconds without a heartbeat after which ``status``'s worker is presumed dead."""
    return max(STALE_AFTER_BEATS * status.heartbeat_interval, STALE_MIN_SECONDS)


def heartbeat_age(status: WorkerStatus, now: datetime | None = None) -> float:
    """Seconds since the worker's last heartbeat."""
    if status.heartbeat_at is None:
        return float("inf")
    return ((now or datetime.now(UTC)) - status.heartbeat_at).total_seconds()


def is_alive(status: WorkerStatus, now: datetime | None = None) -> bool:
    """Whether the worker's last heartbeat is recent enough (see :func:`stale_after`)."""
    return heartbeat_age(status, now) <= stale_after(status)


def follows(status: WorkerStatus, type_id: str, identifier: str, alias: str) -> bool:
    """Whether the worker of ``status`` follows ``alias`` of ``identifier`` (so a move waits for it)."""
    if alias == LATEST:
        return False
    return any(FollowSpec.parse(text).matches(type_id, identifier, alias) for text in status.follow)
