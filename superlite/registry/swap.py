"""Two-phase alias moves: following workers load and warm a new target before the alias flips.

When live workers follow an alias (``superlite worker --follow model:name@alias``), a move
that would start serving a version the alias does not serve yet (``set_alias``, ``rollback``,
``start_canary``; ``promote`` serves the canary already) first records a
:class:`~superlite.stores.base.PendingMove`. Each following worker process sees it at its next
poll, loads the new version (artifacts verified), runs its warm-up and reports ``ready`` or
``failed`` in its status row. The mover waits until every live following worker is ready, then
writes the move (the compare-and-set of :class:`~superlite.registry.lifecycle.Lifecycle`); if
one failed, the move is refused with :class:`~superlite.errors.SwapError`. Workers that stop
heartbeating (dead) stop counting; at ``swap_timeout`` the move goes ahead without the ones
still loading, and the history says which.
"""

from __future__ import annotations

import time
import uuid as uuid_module
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from superlite.errors import SwapError
from superlite.registry.follow import follows, is_alive
from superlite.stores.base import AliasState, MetadataStore, PendingMove, WorkerStatus

#: Seconds a pending move outlives its timeout, so workers ignore a move whose mover died.
PENDING_GRACE = 5.0


@dataclass(frozen=True)
class SwapOutcome:
    """How phase one ended: the workers that got ready, and the live ones still loading at the timeout."""

    ready: tuple[str, ...] = ()
    not_ready: tuple[str, ...] = ()

    def note(self) -> str | None:
        """A line for the alias history, or None when nothing needs saying."""
        parts = []
        if self.ready:
            parts.append(f"ready on {', '.join(self.ready)}")
        if self.not_ready:
            parts.append(f"timed out waiting for {', '.join(self.not_ready)}")
        return "; ".join(parts) or None


def new_targets(before: AliasState | None, after: AliasState | None) -> tuple[str, ...]:
    """The uuids ``after`` serves that ``before`` did not (what following workers must load first)."""
    if after is None:
        return ()
    old = {before.uuid, before.canary_uuid} if before is not None else set()
    return tuple(u for u in (after.uuid, after.canary_uuid) if u is not None and u not in old)


class SwapCoordinator:
    """Runs phase one of a move: record it as pending, wait for the following workers' verdicts."""

    def __init__(self, metadata: MetadataStore, timeout: float, poll: float, who: Callable[[], str]) -> None:
        self.metadata = metadata
        self.timeout = timeout
        self.poll = poll
        self.who = who

    def followers(self, type_id: str, identifier: str, alias: str) -> list[WorkerStatus]:
        """Live workers that follow ``alias`` of ``identifier``."""
        now = datetime.now(UTC)
        return [w for w in self.metadata.workers() if is_alive(w, now) and follows(w, type_id, identifier, alias)]

    @contextmanager
    def prepared(self, type_id: str, identifier: str, alias: str, uuids: tuple[str, ...]) -> Iterator[SwapOutcome]:
        """Have every live follower load and warm ``uuids``; raise :class:`SwapError` if one fails.

        Yields at once when nobody follows the alias. Write the move inside the block: the
        pending move is withdrawn only after it, so followers never see a moment when the new
        target is neither pending nor the alias's (and release it).
        """
        if not uuids or not self.followers(type_id, identifier, alias):
            yield SwapOutcome()
            return
        move = PendingMove(
            str(uuid_module.uuid4()), type_id, identifier, alias, uuids, self.who(),
            datetime.now(UTC) + timedelta(seconds=self.timeout + PENDING_GRACE),
        )
        self.metadata.add_pending(move)
        try:
            yield self._wait(move)
        finally:
            self.metadata.remove_pending([move.id])
            self._prune_expired()

    def _wait(self, move: PendingMove) -> SwapOutcome:
        deadline = time.monotonic() + self.timeout
        while True:
            followers = self.followers(move.type_id, move.identifier, move.alias)
            failures: dict[str, str] = {}
            waiting: list[str] = []
            for worker in followers:
                for uuid in move.uuids:
                    target = worker.targets.get(uuid, {})
                    if target.get("state") == "failed" and move.id in target.get("moves", ()):  # type: ignore[operator]
                        failures[worker.id] = f"{uuid}: {target.get('reason')}"
                    elif target.get("state") != "ready":
                        waiting.append(worker.id)
            if failures:
                reasons = "; ".join(f"{worker}: {reason}" for worker, reason in sorted(failures.items()))
                raise SwapError(
                    f"alias {move.alias!r} of {move.type_id} {move.identifier!r} did not move: following workers "
                    f"could not load or warm up its new target ({reasons}); the old target keeps serving",
                    failures,
                )
            ready = tuple(sorted(w.id for w in followers if w.id not in waiting))
            if not waiting:
                return SwapOutcome(ready)
            if time.monotonic() >= deadline:
                return SwapOutcome(ready, tuple(sorted(set(waiting))))
            time.sleep(self.poll)

    def _prune_expired(self) -> None:
        now = datetime.now(UTC)
        self.metadata.remove_pending([m.id for m in self.metadata.pending_moves() if m.expires_at <= now])
