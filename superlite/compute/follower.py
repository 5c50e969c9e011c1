"""A serving process's follower: keeps followed models loaded and warm, and reports in the database.

One :class:`Follower` runs in each serving process (each prefork pool process: model caches are
per process). Two daemon threads:

* the *follow* thread, every ``poll_interval`` seconds, first reads the change feed and drops
  removed models from the cache (so a removed model stops answering within one poll), then
  works out which uuids this process
  should hold (the ``--follow`` specs: an alias's target and canary, ``latest``, or the versions
  a :class:`~superlite.registry.follow.VersionPolicy` chooses; plus the targets of pending
  two-phase alias moves its specs cover), loads the missing ones through the executor's cache
  (artifacts SHA-256 verified), pins them there, runs their warm-up, and records each as
  ``ready`` or ``failed`` with the reason. A uuid that is no longer wanted is unpinned and
  dropped once no call has used it for ``release_after`` seconds: calls already running on it
  finish on it, and callers that resolved the old version just before a move still find it.
* the *heartbeat* thread rewrites this process's :class:`~superlite.stores.base.WorkerStatus`
  row every ``heartbeat_interval`` seconds, and at once when a readiness changes, so a process
  waiting on a move learns of it without waiting for the next beat.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from superlite.components.reference import LATEST
from superlite.registry.follow import FollowSpec, VersionPolicy
from superlite.stores.base import WorkerStatus

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer

logger = logging.getLogger("superlite.worker")

#: Default seconds between two looks at the database for new targets.
POLL_INTERVAL = 0.5

#: Default seconds between two heartbeats.
HEARTBEAT_INTERVAL = 2.0

#: Default seconds a no-longer-followed version must stay unused before it is dropped.
RELEASE_AFTER = 5.0

READY, FAILED, LOADING = "ready", "failed", "loading"


@dataclass
class _Target:
    state: str
    reason: str | None = None
    moves: set[str] = field(default_factory=set)  # pending moves this outcome answers


class Follower:
    """Keeps the targets of ``specs`` loaded in ``db``'s executor; see the module docstring."""

    def __init__(
        self,
        db: Datalayer,
        specs: Sequence[FollowSpec] = (),
        policy: VersionPolicy | None = None,
        *,
        queues: Sequence[str] = (),
        poll_interval: float = POLL_INTERVAL,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        release_after: float = RELEASE_AFTER,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.specs = tuple(specs)
        self.policy = policy or VersionPolicy()
        self.queues = tuple(queues)
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.release_after = release_after
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.started_at = datetime.now(UTC)
        self._targets: dict[str, _Target] = {}
        self._releasing: set[str] = set()
        self._described: dict[str, dict[str, object]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._seen_change = db.metadata.last_change_id()
        #: Called with a uuid and ``"ready"`` or ``"failed"`` each time a target was loaded and warmed or refused.
        self.prepare_listeners: list[Callable[[str, str], None]] = []

    # -- running -------------------------------------------------------------------------------

    def start(self) -> None:
        """Write the first heartbeat, then start the follow and heartbeat threads."""
        self.beat()
        for name, loop in (("follow", self._follow_loop), ("heartbeat", self._heartbeat_loop)):
            thread = threading.Thread(target=loop, name=f"superlite-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop both threads and delete this process's status row."""
        self._stop.set()
        self._changed.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()
        try:
            self.db.metadata.remove_workers([self.id])
        except Exception as exc:  # noqa: BLE001 - shutting down; the row goes stale instead
            logger.warning("could not remove the status row of %s: %s", self.id, exc)

    def _follow_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception as exc:  # noqa: BLE001 - a database hiccup must not end the thread
                logger.warning("following %s failed, trying again: %s: %s", self.id, type(exc).__name__, exc)
            self._stop.wait(self.poll_interval)

    def _heartbeat_loop(self) -> None:
        while not self._stop.is_set():
            self._changed.wait(self.heartbeat_interval)
            if self._stop.is_set():
                return
            self._changed.clear()
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - the next beat tries again
                logger.warning("heartbeat of %s failed: %s: %s", self.id, type(exc).__name__, exc)

    # -- one round -----------------------------------------------------------------------------

    def sync(self) -> None:
        """One round: forget removed models, load and warm what is wanted, release what is not."""
        self._forget_removed()
        wanted = self.wanted()
        with self._lock:
            for uuid in list(self._targets):
                if uuid not in wanted:
                    del self._targets[uuid]
                    self._releasing.add(uuid)
                    self._changed.set()
            self._releasing -= set(wanted)
        for uuid, move_ids in wanted.items():
            if self._stop.is_set():
                return
            target = self._targets.get(uuid)
            if target is None or (target.state == FAILED and not move_ids <= target.moves):
                self._prepare(uuid, move_ids)
            else:
                target.moves |= move_ids
        self._release_idle()

    def _forget_removed(self) -> None:
        # Removals reach every worker through the change feed: a removed uuid leaves the cache
        # within one poll, so the next call for it finds no record and fails with NotFoundError.
        while True:
            events = self.db.changes(since=self._seen_change)
            for event in events:
                if event.kind == "remove" and event.uuid is not None:
                    self.db.executor.models.unpin(event.uuid)
                    self.db.executor.discard(event.uuid)
            if not events:
                return
            self._seen_change = events[-1].id

    def wanted(self) -> dict[str, set[str]]:
        """``{uuid: ids of the pending moves that want it}`` this process should hold now."""
        metadata = self.db.metadata
        wanted: dict[str, set[str]] = {}
        for spec in self.specs:
            names = metadata.identifiers(spec.type_id) if spec.is_glob else [spec.pattern]
            for identifier in names:
                if not spec.matches(spec.type_id, identifier):
                    continue
                for uuid in self._uuids(spec, identifier):
                    wanted.setdefault(uuid, set())
        now = datetime.now(UTC)
        for move in metadata.pending_moves():
            if move.expires_at > now and any(spec.matches(move.type_id, move.identifier, move.alias) for spec in self.specs):
                for uuid in move.uuids:
                    wanted.setdefault(uuid, set()).add(move.id)
        return wanted

    def _uuids(self, spec: FollowSpec, identifier: str) -> list[str]:
        metadata = self.db.metadata
        if spec.alias == LATEST:
            record = metadata.get(spec.type_id, identifier)
            return [record.uuid] if record is not None else []
        if spec.alias is not None:
            state = metadata.alias(spec.type_id, identifier, spec.alias)
            if state is None:
                return []
            return [state.uuid] + ([state.canary_uuid] if state.canary_uuid else [])
        uuids = []
        for version in self.policy.choose(metadata.versions(spec.type_id, identifier)):
            record = metadata.get(spec.type_id, identifier, version)
            if record is not None:
                uuids.append(record.uuid)
        return uuids

    def _prepare(self, uuid: str, move_ids: set[str]) -> None:
        with self._lock:
            self._targets[uuid] = _Target(LOADING, moves=set(move_ids))
            self._releasing.discard(uuid)
        self._changed.set()
        models = self.db.executor.models
        models.pin(uuid)
        try:
            model = models.get(uuid)
            warm_up = getattr(model, "warm_up", None)
            if callable(warm_up):
                warm_up()
        except Exception as exc:  # noqa: BLE001 - reported, with its reason, to whoever moves the alias
            reason = f"{type(exc).__name__}: {exc}"
            logger.warning("%s could not prepare %s: %s", self.id, uuid, reason)
            models.unpin(uuid)
            self.db.executor.discard(uuid)
            outcome = _Target(FAILED, reason, set(move_ids))
        else:
            logger.info("%s loaded and warmed %s", self.id, uuid)
            outcome = _Target(READY, None, set(move_ids))
        with self._lock:
            if uuid in self._targets:
                self._targets[uuid] = outcome
        self._changed.set()
        for listener in self.prepare_listeners:
            listener(uuid, outcome.state)

    def _release_idle(self) -> None:
        executor = self.db.executor
        for uuid in list(self._releasing):
            idle = executor.idle_for(uuid)
            if idle is not None and idle >= self.release_after:
                with self._lock:
                    if uuid not in self._releasing:
                        continue
                    self._releasing.discard(uuid)
                executor.models.unpin(uuid)
                executor.discard(uuid)
                logger.info("%s released %s (no longer followed, idle)", self.id, uuid)
                self._changed.set()

    # -- reporting -----------------------------------------------------------------------------

    def status(self) -> WorkerStatus:
        """What this process reports in its heartbeat row."""
        with self._lock:
            targets = {
                uuid: {"state": t.state, "reason": t.reason, "moves": sorted(t.moves)} for uuid, t in self._targets.items()
            }
        return WorkerStatus(
            id=self.id,
            host=socket.gethostname(),
            pid=os.getpid(),
            queues=self.queues,
            follow=tuple(str(spec) for spec in self.specs),
            policy=str(self.policy),
            loaded=tuple(self._loaded()),
            targets=targets,
            heartbeat_interval=self.heartbeat_interval,
            started_at=self.started_at,
            heartbeat_at=datetime.now(UTC),
        )

    def _loaded(self) -> list[dict[str, object]]:
        loaded = []
        batched = self.db.executor.batchers.counts()
        for uuid, size in self.db.executor.models.sizes().items():
            if uuid not in self._described:
                record = self.db.metadata.get_by_uuid(uuid)
                if record is None:
                    continue
                self._described[uuid] = {"type_id": record.type_id, "identifier": record.identifier, "version": record.version}
            loaded.append({"uuid": uuid, **self._described[uuid], "size": size, **batched.get(uuid, {})})
        return loaded

    def beat(self) -> None:
        """Write this process's status row now."""
        self.db.metadata.write_worker(self.status())
