"""The interface between the listener runner and a database: :class:`ListenerSource`.

A source follows one listener's table (or collection): it installs change capture, hands out
the changed row ids, reads rows, and writes outputs, errors and progress, each batch in one
transaction. The SQL source lives in :mod:`superlite.listeners.sql`; the MongoDB plugin adds
its own through the entry-point group ``superlite.listener_sources`` (URI scheme -> opener).
"""

from __future__ import annotations

import abc
import json
import math
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from superlite.components.reference import Resolved
from superlite.errors import SerializationError
from superlite.serialization.wire import CODEC

#: A row's identity in its table (an int, a string, an ObjectId, ...).
SourceId = Hashable


def encode_output(value: Any) -> str:
    """A model's output as the JSON text stored beside its row, through the wire codec.

    Plain JSON values are stored as they are; ``bytes``, tuples, numpy arrays and every other
    type the wire codec carries become its tagged objects, so they read back as they were.
    Raises :class:`~superlite.errors.SerializationError` for a value that cannot be stored (a
    type the codec does not carry, a NaN or infinite float).
    """
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        return json.dumps(value)
    if kind is float and not math.isfinite(value):
        raise SerializationError(f"cannot store the output {value!r}: JSON has no NaN or infinity; return None or a finite number")
    try:
        return json.dumps(CODEC.to_json_value(value), separators=(",", ":"), allow_nan=False)
    except ValueError as exc:  # a NaN or infinity inside a container
        raise SerializationError(f"cannot store an output holding NaN or infinity ({exc}); replace them by None or finite numbers") from None


def decode_output(stored: Any) -> Any:
    """An output as the driver returned it (parsed JSON) back to the model's value."""
    # Only containers can hold the wire codec's tagged objects.
    return CODEC.loads(json.dumps(stored)) if isinstance(stored, (dict, list)) else stored


@dataclass(frozen=True)
class ListenerState:
    """Where a listener stands: the model version in force and the back-fill's progress.

    ``cursor`` is the last row id the back-fill has passed (None: not started); outputs of rows
    after it may still come from an older version, or be missing.
    """

    model_uuid: str | None
    model_version: int | None
    cursor: Any
    backfill_done: bool
    processed: int = 0
    rate: float | None = None


@dataclass(frozen=True)
class Change:
    """One queued change: the row ``source_id`` was inserted, updated or deleted."""

    token: Any
    source_id: SourceId


@dataclass
class Batch:
    """What one pass wrote: outputs, per-row errors, ids whose output goes, and progress.

    ``outputs`` hold :func:`encode_output`'s JSON text, so a source stores them as they are.
    ``elsewhere`` counts rows of this batch that workers wrote (and counted) themselves: they
    count toward the rate, not toward ``processed``.
    """

    outputs: list[tuple[SourceId, str]] = field(default_factory=list)
    errors: list[tuple[SourceId, str]] = field(default_factory=list)
    deleted: list[SourceId] = field(default_factory=list)
    done: list[Any] = field(default_factory=list)
    cursor: Any = None
    seconds: float = 0.0
    elsewhere: int = 0

    @property
    def count(self) -> int:
        """Rows this batch writes an output, an error or a removal for (what ``processed`` grows by)."""
        return len(self.outputs) + len(self.errors) + len(self.deleted)

    @property
    def rate(self) -> float | None:
        """Rows per second over ``seconds``, rows written elsewhere included; None without a measure."""
        rows = self.count + self.elsewhere
        return rows / self.seconds if self.seconds > 0 and rows else None


@dataclass(frozen=True)
class Lag:
    """How far behind a listener is: queued changes, rows the back-fill has not reached, errors."""

    pending: int
    oldest_pending_seconds: float | None
    backfill_remaining: int
    errors: int


class ListenerSource(abc.ABC):
    """One listener's view of its database. Every method is one round trip or one transaction."""

    @abc.abstractmethod
    def install(self, signature: str) -> bool:
        """Create output storage and change capture (idempotent); True when ``signature`` changed.

        ``signature`` names what the outputs are computed from (table, key, filter): when it
        differs from the installed one, the old outputs are dropped and the back-fill restarts.
        """

    @abc.abstractmethod
    def uninstall(self, keep_outputs: bool) -> None:
        """Remove change capture, queued changes, state and errors, and the outputs unless kept."""

    @abc.abstractmethod
    def state(self) -> ListenerState:
        """The listener's current state."""

    @abc.abstractmethod
    def restart_backfill(self, model: Resolved) -> None:
        """Make ``model`` the version in force and start the back-fill over."""

    @abc.abstractmethod
    def finish_backfill(self) -> None:
        """Mark the back-fill complete: every row has its output (or error) from the version in force."""

    @abc.abstractmethod
    def scan(self, cursor: Any, limit: int, last: Any = None) -> list[tuple[SourceId, Any, str | None]]:
        """Rows after ``cursor`` (up to ``last`` included) in id order: ``(id, key value, uuid of the model of its output)``."""

    @abc.abstractmethod
    def ranges(self, cursor: Any, size: int, count: int) -> list[tuple[SourceId, int]]:
        """Up to ``count`` consecutive ranges of ``size`` rows after ``cursor``, as ``(last id, rows)``.

        What a back-fill on workers hands out; the last range may be shorter, and none are
        returned past the last row.
        """

    @abc.abstractmethod
    def changes(self, limit: int) -> list[Change]:
        """The oldest queued changes, at most ``limit``."""

    @abc.abstractmethod
    def read(self, ids: Sequence[SourceId]) -> dict[SourceId, Any]:
        """The key value of each of ``ids`` that exists and passes the filter."""

    @abc.abstractmethod
    def commit(self, model: Resolved, batch: Batch) -> None:
        """Write ``batch`` in one transaction (outputs upserted by source id, so a re-run is harmless)."""

    @abc.abstractmethod
    def acquire(self, owner: str, seconds: float) -> bool:
        """Take (or renew) the right to process this listener for ``seconds``; False if another holds it."""

    @abc.abstractmethod
    def release(self, owner: str) -> None:
        """Give the right to process back, if ``owner`` holds it."""

    @abc.abstractmethod
    def outputs(self) -> dict[SourceId, Any]:
        """Every stored output by source id."""

    @abc.abstractmethod
    def errors(self) -> dict[SourceId, str]:
        """The error message of every row whose model call failed under the version in force."""

    @abc.abstractmethod
    def lag(self) -> Lag:
        """How far behind the listener is."""

    def wait(self, seconds: float) -> None:
        """Block until a change may have arrived, or ``seconds`` passed (default: just sleep)."""
        time.sleep(seconds)

    def close(self) -> None:
        """Release what the source holds open (the database connection stays the Datalayer's)."""
