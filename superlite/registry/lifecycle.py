"""The model lifecycle: aliases (``production``, ``staging``) that point at a version and move.

Every move is a read, a new state and a compare-and-set write (:meth:`MetadataStore.write_alias`)
that records the move in the alias's history and in the change feed in the same transaction. A
writer that lost a race re-reads and tries again, so concurrent moves are serialized and the
history is the exact sequence of states.

A canary splits one alias's traffic: ``canary_percent`` of requests go to the canary version.
:func:`canary_share` decides per request: a request with a routing key always lands on the same
side while the split holds (a hash of the key into 0–99), one without a key is drawn at random.
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import os
import random
import socket
from collections.abc import Callable
from datetime import UTC, datetime

from superlite.common.retry import retry
from superlite.components.reference import ALIAS_PATTERN, LATEST
from superlite.errors import (
    ArgumentTypeError,
    ConfigurationError,
    InvalidArgumentError,
    NotFoundError,
    SwapError,
    VersionConflictError,
)
from superlite.registry.registry import Registry
from superlite.registry.swap import SwapCoordinator, new_targets
from superlite.stores.base import AliasChange, AliasState

#: How many times a move is tried when other processes keep moving the same alias.
MOVE_RETRIES = 20

#: Longest alias name (it is stored in an indexed column).
MAX_ALIAS_LENGTH = 64


def who() -> str:
    """``user@host:pid`` of this process, recorded with each alias change."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


def in_canary(percent: int, key: str | None) -> bool:
    """Whether this request goes to the canary: by ``key`` (sticky) or at random without one."""
    if percent <= 0:
        return False
    if key is None:
        return random.randrange(100) < percent
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % 100
    return bucket < percent


def check_alias_name(alias: object) -> str:
    """``alias`` if it is a valid name an alias can be set under.

    Raises :class:`ArgumentTypeError` for a non-string and :class:`InvalidArgumentError` for a
    name outside the pattern or the built-in ``latest``.
    """
    if not isinstance(alias, str):
        raise ArgumentTypeError(f"an alias name is a str, not {type(alias).__name__} {alias!r}")
    if len(alias) > MAX_ALIAS_LENGTH or not ALIAS_PATTERN.fullmatch(alias):
        raise InvalidArgumentError(
            f"alias names match {ALIAS_PATTERN.pattern} (at most {MAX_ALIAS_LENGTH} characters), not {alias!r}"
        )
    if alias == LATEST:
        raise InvalidArgumentError(f"{LATEST!r} is built in (always the newest version) and cannot be set")
    return alias


def check_percent(percent: object) -> int:
    """``percent`` if it is an int from 1 to 99; else :class:`ArgumentTypeError`/:class:`InvalidArgumentError`."""
    if isinstance(percent, bool) or not isinstance(percent, int):
        raise ArgumentTypeError(f"a canary takes 1 to 99 percent of the traffic (an int), not {percent!r}")
    if not 1 <= percent <= 99:
        raise InvalidArgumentError(f"a canary takes 1 to 99 percent of the traffic, not {percent!r}")
    return percent


Move = Callable[[AliasState | None], AliasState | None]


class Lifecycle:
    """Sets, moves and reads the aliases of the components in a :class:`Registry`."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.metadata = registry.metadata
        options = registry.settings.swap
        self.swaps = SwapCoordinator(self.metadata, options.swap_timeout, options.swap_poll, who)

    def get(self, type_id: str, identifier: str, alias: str) -> AliasState:
        """The state of one alias; :class:`NotFoundError` listing the set ones when absent."""
        state = self.metadata.alias(type_id, identifier, alias)
        if state is None:
            known = [LATEST, *(s.alias for s in self.metadata.aliases(type_id, identifier))]
            raise NotFoundError(f"{type_id} {identifier!r} has no alias {alias!r}; aliases: {', '.join(known)}", known)
        return state

    def list(self, type_id: str, identifier: str) -> dict[str, dict[str, object]]:
        """``{alias: state}`` of one identifier (views as :meth:`AliasState.to_dict`)."""
        self.registry.record(type_id, identifier)
        return {state.alias: state.to_dict() for state in self.metadata.aliases(type_id, identifier)}

    def history(self, type_id: str, identifier: str, alias: str | None = None, limit: int = 100) -> list[AliasChange]:
        """Alias changes of one identifier, newest first."""
        return self.metadata.alias_history(type_id, identifier, alias, limit)

    def set(self, type_id: str, identifier: str, alias: str, version: int, why: str | None = None) -> AliasState:
        """Point ``alias`` at ``version`` (creating it); a running canary ends."""
        check_alias_name(alias)
        record = self.registry.record(type_id, identifier, version=version)

        def move(state: AliasState | None) -> AliasState:
            if state is None:
                return AliasState(type_id, identifier, alias, record.version, record.uuid)
            return self._moved(state, record.version, record.uuid)

        return self._apply(type_id, identifier, alias, "set", move, why)  # type: ignore[return-value]

    def remove(self, type_id: str, identifier: str, alias: str, why: str | None = None) -> None:
        """Delete ``alias``; :class:`NotFoundError` when it is not set."""
        check_alias_name(alias)

        def move(state: AliasState | None) -> None:
            self._existing(state, type_id, identifier, alias)  # NotFoundError once it is gone

        self._apply(type_id, identifier, alias, "remove", move, why)

    def start_canary(
        self, type_id: str, identifier: str, alias: str, version: int, percent: int, why: str | None = None
    ) -> AliasState:
        """Send ``percent`` of the alias's traffic to ``version``, the rest to its target."""
        check_percent(percent)
        record = self.registry.record(type_id, identifier, version=version)
        self.get(type_id, identifier, alias)

        def move(state: AliasState | None) -> AliasState:
            current = self._existing(state, type_id, identifier, alias)
            if current.version == record.version:
                raise ConfigurationError(f"alias {alias!r} already points at version {record.version}; a canary needs another version")
            return dataclasses.replace(
                current, canary_version=record.version, canary_uuid=record.uuid, canary_percent=percent
            )

        return self._apply(type_id, identifier, alias, "canary", move, why)  # type: ignore[return-value]

    def promote(self, type_id: str, identifier: str, alias: str, why: str | None = None) -> AliasState:
        """Move the alias to its canary version (all traffic); the canary ends."""

        def move(state: AliasState | None) -> AliasState:
            current = self._existing(state, type_id, identifier, alias)
            if current.canary_version is None or current.canary_uuid is None:
                raise ConfigurationError(
                    f"alias {alias!r} of {type_id} {identifier!r} has no canary to promote; "
                    f"start one with start_canary (superlite canary) or move it with set_alias"
                )
            return self._moved(current, current.canary_version, current.canary_uuid)

        return self._apply(type_id, identifier, alias, "promote", move, why)  # type: ignore[return-value]

    def rollback(self, type_id: str, identifier: str, alias: str, why: str | None = None) -> AliasState:
        """With a canary running, end it; else move the alias back to its previous version."""

        def move(state: AliasState | None) -> AliasState:
            current = self._existing(state, type_id, identifier, alias)
            if current.canary_version is not None:
                return dataclasses.replace(current, canary_version=None, canary_uuid=None, canary_percent=0)
            if current.previous_version is None:
                raise ConfigurationError(f"alias {alias!r} of {type_id} {identifier!r} has no previous version to roll back to")
            previous = self.registry.record(type_id, identifier, version=current.previous_version)
            return self._moved(current, previous.version, previous.uuid)

        return self._apply(type_id, identifier, alias, "rollback", move, why)  # type: ignore[return-value]

    def pointing_at(self, type_id: str, identifier: str, versions: set[int]) -> list[AliasState]:
        """The aliases whose target or canary is one of ``versions``."""
        return [
            state
            for state in self.metadata.aliases(type_id, identifier)
            if state.version in versions or state.canary_version in versions
        ]

    @staticmethod
    def _moved(state: AliasState, version: int, uuid: str) -> AliasState:
        previous = state.version if version != state.version else state.previous_version
        return dataclasses.replace(
            state, version=version, uuid=uuid, canary_version=None, canary_uuid=None, canary_percent=0,
            previous_version=previous,
        )

    def _existing(self, state: AliasState | None, type_id: str, identifier: str, alias: str) -> AliasState:
        return state if state is not None else self.get(type_id, identifier, alias)

    def _apply(self, type_id: str, identifier: str, alias: str, action: str, move: Move, why: str | None) -> AliasState | None:
        def attempt() -> AliasState | None:
            before = self.metadata.alias(type_id, identifier, alias)
            after = move(before)
            if after is not None:
                after = dataclasses.replace(
                    after, revision=(before.revision if before else 0) + 1, updated_at=datetime.now(UTC)
                )
            views = (before.to_dict() if before else None, after.to_dict() if after else None)
            try:
                with self.swaps.prepared(type_id, identifier, alias, new_targets(before, after)) as outcome:
                    note = outcome.note()
                    reason = why if note is None else (note if why is None else f"{why}; {note}")
                    change = AliasChange(type_id, identifier, alias, action, *views, who(), reason)
                    self.metadata.write_alias(change, after, before.revision if before else 0)
            except SwapError as exc:
                refused = f"refused: {exc.failures}" if why is None else f"{why}; refused: {exc.failures}"
                self.metadata.record_alias_change(
                    AliasChange(type_id, identifier, alias, f"{action}-refused", *views, who(), refused)
                )
                raise
            return after

        return retry(
            attempt, attempts=MOVE_RETRIES, retry_if=lambda exc: isinstance(exc, VersionConflictError), backoff=0.005
        )
