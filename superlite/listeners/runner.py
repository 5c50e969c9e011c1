"""Running listeners: back-fill, then follow queued changes, on the Datalayer's compute.

:class:`ListenerRunner` does one listener's work in passes. A pass resolves the listener's model
selector (an alias may have moved: then the back-fill restarts with the new version, and outputs
of the old one are replaced row by row), continues the back-fill from its cursor, then drains the
queue of changed rows. Inputs go to the compute in chunks (``predict_batches``, in parallel on
the thread pool or on Celery workers); a chunk that fails is retried row by row, so one bad row
records its error and the rest get their outputs. Every batch is written in one transaction,
outputs upserted by source id, so an interrupted pass is resumed, never duplicated.

Several processes may run passes at once: each takes a lease on the listener first (in the
database), so each change is processed once.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid as uuid_module
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from superlite.common.uris import uri_scheme
from superlite.components.reference import Resolved
from superlite.compute.base import ResultHandle, Task
from superlite.errors import ConfigurationError, DependencyError, SerializationError, SuperliteError, UnknownSchemeError
from superlite.extensions import ExtensionPoint
from superlite.listeners.component import Listener
from superlite.listeners.source import Batch, Lag, ListenerSource, SourceId, encode_output

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer

log = logging.getLogger(__name__)

#: Opener of a listener source by database URI scheme: ``opener(db, listener) -> ListenerSource``.
SOURCES = ExtensionPoint(
    "superlite.listener_sources",
    {name: "superlite.listeners.runner:open_sql_source" for name in ("sqlite", "postgresql", "postgres", "mysql", "mariadb")},
)

#: Seconds a processing lease lasts; renewed after every batch.
LEASE_SECONDS = 30.0

#: Seconds between looks for new, changed and removed listeners in :meth:`ListenerRunner.follow`.
REFRESH_SECONDS = 2.0

#: Fewest rows in one ``predict_batches`` chunk unless ``chunk_size`` says otherwise: each chunk
#: costs the caller a broker round trip (about 3 ms of its CPU on Celery), which smaller chunks
#: of a cheap model would not repay.
MIN_CHUNK = 1000

#: Seconds :meth:`ListenerRunner.catch_up` waits for another process to release a listener.
LEASE_WAIT = 120.0


class ListenerBusyError(SuperliteError):
    """Another process held the listener's processing lease for longer than :data:`LEASE_WAIT`."""


@dataclass
class Counts:
    """What a pass did: outputs written, rows failed, outputs removed (rows deleted or filtered out)."""

    computed: int = 0
    failed: int = 0
    deleted: int = 0
    model_version: int | None = None

    def add_counts(self, counts: dict[str, Any]) -> None:
        """Count what a worker's share of a back-fill did (see :meth:`ListenerRunner.backfill_range`)."""
        self.computed += counts["computed"]
        self.failed += counts["failed"]
        self.deleted += counts["deleted"]

    def add(self, batch: Batch) -> None:
        """Count one committed batch."""
        self.computed += len(batch.outputs)
        self.failed += len(batch.errors)
        failed = {i for i, _ in batch.errors}
        self.deleted += sum(1 for i in batch.deleted if i not in failed)  # a failed row's stale output goes too

    def as_dict(self) -> dict[str, int | None]:
        """The counts as a plain dict (what ``db.catch_up`` returns)."""
        return {"computed": self.computed, "failed": self.failed, "deleted": self.deleted, "model_version": self.model_version}


@dataclass(frozen=True)
class ListenerStatus:
    """One listener as ``superlite listeners`` shows it."""

    identifier: str
    table: str
    model: str
    model_version: int | None
    backfill_done: bool
    lag: Lag
    processed: int
    rate: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "listener": self.identifier,
            "table": self.table,
            "model": self.model,
            "model_version": self.model_version,
            "backfill_done": self.backfill_done,
            "pending": self.lag.pending,
            "oldest_pending_seconds": self.lag.oldest_pending_seconds,
            "backfill_remaining": self.lag.backfill_remaining,
            "errors": self.lag.errors,
            "processed": self.processed,
            "rows_per_second": self.rate,
        }


@dataclass
class _Sent:
    """A back-fill page on its way: its ``parts`` (row chunks for the compute, or id ranges
    ``(after, last]`` handed to workers) and their pending results, in the same order (a None
    handle was not sent); ``cursor`` is the page's last id, ``scanned`` its row count."""

    parts: list[Any]
    handles: list[ResultHandle | None]
    cursor: Any
    scanned: int
    started: float


def _answers(handle: ResultHandle | None) -> Any:
    """A chunk's results; None when it was not sent or failed."""
    if handle is None:
        return None
    try:
        return handle.result()
    except Exception:  # noqa: BLE001 - the caller retries the chunk row by row, which names the error
        return None


def _add_output(batch: Batch, source_id: SourceId, result: Any) -> None:
    """Add ``result`` encoded for storage; one the wire codec cannot store is the row's error."""
    try:
        batch.outputs.append((source_id, encode_output(result)))
    except SuperliteError as exc:
        batch.errors.append((source_id, f"{type(exc).__name__}: {exc}"))


def open_sql_source(db: Datalayer, listener: Listener) -> ListenerSource:
    """The SQL source on the Datalayer's own engine."""
    from superlite.listeners.sql import SQLListenerSource
    from superlite.stores.sql.metadata import SQLMetadataStore

    if not isinstance(db.metadata, SQLMetadataStore):
        raise ConfigurationError(f"{db!r}: SQL listeners need the SQL metadata store")
    return SQLListenerSource(db.metadata._engine, listener)


def open_source(db: Datalayer, listener: Listener) -> ListenerSource:
    """The source for ``listener`` on ``db``'s database, chosen by URI scheme."""
    scheme = uri_scheme(db.settings.uri)
    opener: Callable[[Datalayer, Listener], ListenerSource] | None = SOURCES.find(scheme)
    if opener is None:
        raise UnknownSchemeError(scheme, "listener source", SOURCES.names())
    return opener(db, listener)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid_module.uuid4().hex[:8]}"


@dataclass
class ListenerRunner:
    """Installs, runs, reports on and removes the listeners of one Datalayer."""

    db: Datalayer
    owner: str = field(default_factory=_owner)
    progress: bool = False
    _renewed: dict[int, float] = field(default_factory=dict, init=False, repr=False)

    def listener(self, identifier: str) -> Listener:
        """The latest stored version of listener ``identifier``."""
        component = self.db.load(Listener.type_id, identifier)
        if not isinstance(component, Listener):
            raise ConfigurationError(f"listener {identifier!r} is stored as a {type(component).__qualname__}, not a Listener")
        return component

    @contextmanager
    def source(self, listener: Listener) -> Iterator[ListenerSource]:
        """An open source for ``listener``, closed afterwards."""
        opened = open_source(self.db, listener)
        try:
            yield opened
        finally:
            opened.close()

    def install(self, listener: Listener) -> None:
        """Install change capture and outputs; the back-fill restarts when table, key or filter changed."""
        signature = f"{listener.table}|{listener.key}|{listener.id_column}|{listener.where!r}"
        with self.source(listener) as source:
            source.install(signature)

    def removable(self, identifier: str, *, keep_outputs: bool, force: bool) -> Listener:
        """Listener ``identifier``, checked to be removable: no other listener reads its outputs.

        Raises :class:`~superlite.errors.DependencyError` when one does and the outputs would be
        dropped, unless ``force``.
        """
        listener = self.listener(identifier)
        if keep_outputs or force:
            return listener
        readers = [
            other for other in self.db.show(Listener.type_id)
            if other != identifier and self.listener(other).table == listener.outputs_table
        ]
        if readers:
            raise DependencyError(
                f"cannot remove listener {identifier!r}: listener(s) {', '.join(map(repr, readers))} read its outputs "
                f"table {listener.outputs_table!r}; remove those first, pass keep_outputs=True, or force=True"
            )
        return listener

    def uninstall(self, listener: Listener, keep_outputs: bool = False) -> None:
        """Stop following the table and drop outputs unless ``keep_outputs``."""
        with self.source(listener) as source:
            source.uninstall(keep_outputs)

    # -- processing ----------------------------------------------------------------------------

    def catch_up(self, listener: Listener | str, *, wait: float = LEASE_WAIT) -> dict[str, int | None]:
        """Process everything pending for one listener now; returns counts.

        Waits up to ``wait`` seconds for another process (``superlite listen``) to let go of it.
        """
        component = self.listener(listener) if isinstance(listener, str) else listener
        with self.source(component) as source:
            deadline = time.monotonic() + wait
            while not self._acquire(source):
                if time.monotonic() >= deadline:
                    raise ListenerBusyError(f"listener {component.identifier!r} stayed busy in another process for {wait} s")
                source.wait(0.05)
            try:
                return self.run_pass(component, source).as_dict()
            finally:
                source.release(self.owner)

    def _acquire(self, source: ListenerSource) -> bool:
        if not source.acquire(self.owner, LEASE_SECONDS):
            return False
        self._renewed[id(source)] = time.monotonic()
        return True

    def has_work(self, listener: Listener, source: ListenerSource) -> bool:
        """Whether a pass would do anything: the model moved, the back-fill is unfinished, or changes wait.

        Only reads, so an idle ``superlite listen`` writes nothing.
        """
        current = source.state()
        if not current.backfill_done or current.model_uuid != self.db.resolve(listener.selector, split=False).uuid:
            return True
        return bool(source.changes(1))

    def run_pass(self, listener: Listener, source: ListenerSource) -> Counts:
        """Follow the model selector, continue the back-fill, drain the queue (lease held)."""
        model = self.db.resolve(listener.selector, split=False)
        current = source.state()
        if current.model_uuid != model.uuid:
            source.restart_backfill(model)
            current = source.state()
        counts = Counts(model_version=model.version)
        if not current.backfill_done and self.db.settings.broker:
            self._backfill_on_workers(listener, source, model, current.cursor, counts)
        elif not current.backfill_done:
            self._backfill(listener, source, model, current.cursor, counts)
        while changes := source.changes(listener.batch_size):
            started = time.perf_counter()
            ids = list(dict.fromkeys(change.source_id for change in changes))
            rows = source.read(ids)
            batch = self._compute(listener, model, [(i, rows[i]) for i in ids if i in rows], drop_failed=True)
            batch.deleted.extend(i for i in ids if i not in rows)
            batch.done = [change.token for change in changes]
            batch.seconds = time.perf_counter() - started  # the whole batch, reading included
            source.commit(model, batch)
            counts.add(batch)
            self._renew(source)
        return counts

    def _backfill(self, listener: Listener, source: ListenerSource, model: Resolved, cursor: Any, counts: Counts) -> None:
        """Pages in id order, read here and sent to the compute in ``predict_batches`` chunks."""

        def send() -> _Sent | None:
            nonlocal cursor
            page = source.scan(cursor, listener.batch_size)
            if not page:
                return None
            todo = [(i, value) for i, value, made_by in page if made_by != model.uuid]
            cursor = page[-1][0]
            return self._submit(listener, model, todo, cursor=cursor, scanned=len(page))

        def collect(submitted: _Sent) -> int:
            batch = self._collect(model, submitted, drop_failed=False)
            source.commit(model, batch)
            counts.add(batch)
            self._renew(source)
            return submitted.scanned

        self._in_pages(listener, source, send, collect)

    def _backfill_on_workers(self, listener: Listener, source: ListenerSource, model: Resolved, cursor: Any, counts: Counts) -> None:
        """Pages of ids handed to workers as ranges: each worker reads its rows, runs the model and
        writes the outputs in its own Datalayer, so no row or output crosses the broker. The cursor
        moves once every range of a page is done.
        """
        target = Resolved(Listener.type_id, listener.identifier, listener.uuid, listener.version)  # type: ignore[arg-type]

        def send() -> _Sent | None:
            nonlocal cursor
            ranges = source.ranges(cursor, listener.batch_size, self.db.compute_backend.parallelism)
            if not ranges:
                return None
            handed = self._hand_out(target, model, cursor, ranges)
            cursor = handed.cursor
            return handed

        def collect(handed: _Sent) -> int:
            self._gather(listener, source, model, handed, counts)
            return handed.scanned

        self._in_pages(listener, source, send, collect)

    def _in_pages(self, listener: Listener, source: ListenerSource, send: Callable[[], Any], collect: Callable[[Any], int]) -> None:
        """Run a back-fill page by page: the next page is sent before this one is collected (and
        committed), so the compute never waits for the database; then mark the back-fill done.

        ``send()`` reads and sends the next page (None: no rows left); ``collect(page)`` waits for
        it, writes what it must and returns the rows it passed.
        """
        bar = self._progress_bar(listener, source)
        in_flight = None
        try:
            while True:
                sent = send()
                if in_flight is not None:
                    passed = collect(in_flight)
                    if bar is not None:
                        bar.update(passed)
                if sent is None:
                    break
                in_flight = sent
            source.finish_backfill()
        finally:
            if bar is not None:
                bar.close()

    def _hand_out(self, target: Resolved, model: Resolved, cursor: Any, ranges: list[tuple[SourceId, int]]) -> _Sent:
        """Send one task per range (``batch_size`` rows: one transaction on the worker), without waiting."""
        lasts = [last for last, _ in ranges]
        bounds = list(zip([cursor, *lasts[:-1]], lasts))
        described = [model.type_id, model.identifier, model.uuid, model.version]
        tasks = [Task(target, "backfill_range", (described, after, last)) for after, last in bounds]
        handles: list[ResultHandle | None]
        try:
            handles = list(self.db.compute_backend.submit_many(tasks))
        except SerializationError:  # ids the wire codec cannot carry: the ranges are done here
            handles = [None] * len(tasks)
        return _Sent(bounds, handles, lasts[-1], sum(rows for _, rows in ranges), time.perf_counter())

    def _gather(self, listener: Listener, source: ListenerSource, model: Resolved, handed: _Sent, counts: Counts) -> None:
        """Wait for a page's ranges (a range a worker failed is done here), then move the cursor past it."""
        for (after, last), handle in zip(handed.parts, handed.handles):
            try:
                done = handle.result() if handle is not None else None
            except Exception as exc:  # an older worker, a lost task: the rows still get their outputs
                log.warning("listener %r: rows after %r up to %r failed on a worker (%s: %s); computing them here",
                            listener.identifier, after, last, type(exc).__name__, exc)
                done = None
            counts.add_counts(done if done is not None else self.backfill_range(listener, source, model, after, last))
        seconds = time.perf_counter() - handed.started
        source.commit(model, Batch(cursor=handed.cursor, seconds=seconds, elsewhere=handed.scanned))
        self._renew(source)

    def backfill_range(self, listener: Listener, source: ListenerSource, model: Resolved, after: Any, last: Any) -> dict[str, int]:
        """Compute and store ``model``'s outputs of the rows after ``after`` up to ``last``; returns counts.

        What a worker does with its share of a back-fill (:meth:`Listener.backfill_range`); the
        cursor and the lease stay with the process that handed the range out.
        """
        counts = Counts()
        source.state()  # what the source knows of stored errors may be older than this range
        while page := source.scan(after, listener.batch_size, last):
            todo = [(i, value) for i, value, made_by in page if made_by != model.uuid]
            batch = self._compute(listener, model, todo, drop_failed=False)
            batch.seconds = 0.0  # the rate is the whole page's, measured where it was handed out
            source.commit(model, batch)
            counts.add(batch)
            after = page[-1][0]
            if after == last or len(page) < listener.batch_size:
                break
        return counts.as_dict()

    def _renew(self, source: ListenerSource) -> None:
        # Renewing is a write; a third of the lease between renewals is plenty.
        now = time.monotonic()
        if now - self._renewed.get(id(source), 0.0) > LEASE_SECONDS / 3:
            source.acquire(self.owner, LEASE_SECONDS)
            self._renewed[id(source)] = now

    def _progress_bar(self, listener: Listener, source: ListenerSource) -> Any:
        if not self.progress:
            return None
        try:
            from tqdm import tqdm
        except ImportError:
            raise ConfigurationError("progress bars need tqdm: pip install tqdm") from None
        return tqdm(total=source.lag().backfill_remaining, desc=f"back-fill {listener.identifier}", unit="row")

    def _compute(self, listener: Listener, model: Resolved, rows: Sequence[tuple[SourceId, Any]], *, drop_failed: bool) -> Batch:
        """Outputs for ``rows``; failed rows become errors (and lose a stale output if ``drop_failed``)."""
        return self._collect(model, self._submit(listener, model, rows), drop_failed=drop_failed)

    def _submit(self, listener: Listener, model: Resolved, rows: Sequence[tuple[SourceId, Any]], *, cursor: Any = None, scanned: int = 0) -> _Sent:
        """Send ``rows`` to the compute in ``predict_batches`` chunks, without waiting."""
        compute = self.db.compute_backend
        size = listener.chunk_size or max(MIN_CHUNK, -(-len(rows) // compute.parallelism))
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        handles = compute.submit_many([Task(model, "predict_batches", ([value for _, value in chunk],)) for chunk in chunks]) if chunks else []
        return _Sent(chunks, handles, cursor, scanned, time.perf_counter())

    def _collect(self, model: Resolved, submitted: _Sent, *, drop_failed: bool) -> Batch:
        """Wait for submitted chunks; a failed chunk is retried row by row to find the failing rows."""
        batch = Batch(cursor=submitted.cursor)
        for chunk, handle in zip(submitted.parts, submitted.handles):
            results = _answers(handle)
            if results is None:  # one row may have failed the chunk: find which, row by row
                self._one_by_one(model, chunk, batch)
                continue
            try:  # the common case in one pass; a row that cannot be stored sends the chunk the slow way
                batch.outputs.extend([(i, encode_output(result)) for (i, _), result in zip(chunk, results)])  # type: ignore[call-overload]
            except SuperliteError:
                for (i, _), result in zip(chunk, results):  # type: ignore[call-overload]
                    _add_output(batch, i, result)
        if drop_failed:
            batch.deleted.extend(i for i, _ in batch.errors)
        batch.seconds = time.perf_counter() - submitted.started
        return batch

    def _one_by_one(self, model: Resolved, chunk: Sequence[tuple[SourceId, Any]], batch: Batch) -> None:
        handles = self.db.compute_backend.submit_many([Task(model, "predict", (value,)) for _, value in chunk])
        for (i, _), handle in zip(chunk, handles):
            try:
                result = handle.result()
            except Exception as exc:
                batch.errors.append((i, f"{type(exc).__name__}: {exc}"))
                continue
            _add_output(batch, i, result)

    # -- following -----------------------------------------------------------------------------

    def follow(self, *, interval: float = 0.1, stop: Callable[[], bool] = lambda: False) -> None:
        """Process every listener's changes until ``stop()`` is true (``superlite listen``).

        Listeners another process holds are skipped this round; new and removed listeners are
        picked up as they come. Waits up to ``interval`` seconds between rounds (PostgreSQL wakes
        on its triggers' NOTIFY).
        """
        sources: dict[str, tuple[Listener, ListenerSource]] = {}
        refreshed = float("-inf")
        try:
            while not stop():
                if time.monotonic() - refreshed > REFRESH_SECONDS:
                    self._refresh(sources)
                    refreshed = time.monotonic()
                for listener, source in sources.values():
                    self._follow_one(listener, source)
                if sources:
                    next(iter(sources.values()))[1].wait(interval)
                else:
                    time.sleep(interval)
        finally:
            for _, source in sources.values():
                source.close()

    def _follow_one(self, listener: Listener, source: ListenerSource) -> None:
        identifier = listener.identifier
        try:
            if not self.has_work(listener, source) or not self._acquire(source):
                return  # nothing to do, or another process has it this round
            try:
                counts = self.run_pass(listener, source)
            finally:
                source.release(self.owner)
        except Exception:  # a database hiccup or a removed listener: log it, try again next round
            log.exception("listener %r: pass failed; retrying next round", identifier)
            return
        if counts.computed or counts.failed or counts.deleted:
            log.info("listener %r: %s", identifier, counts.as_dict())

    def _refresh(self, sources: dict[str, tuple[Listener, ListenerSource]]) -> None:
        identifiers = set(self.db.show(Listener.type_id))
        for gone in set(sources) - identifiers:
            sources.pop(gone)[1].close()
        for identifier in identifiers:
            record = self.db.record(Listener.type_id, identifier)
            if identifier in sources and sources[identifier][0].uuid == record.uuid:
                continue
            if identifier in sources:
                sources.pop(identifier)[1].close()
            listener = self.listener(identifier)
            sources[identifier] = (listener, open_source(self.db, listener))

    # -- reporting -----------------------------------------------------------------------------

    def status(self) -> list[ListenerStatus]:
        """Every listener's lag, errors and throughput."""
        statuses = []
        for identifier in self.db.show(Listener.type_id):
            listener = self.listener(identifier)
            with self.source(listener) as source:
                current = source.state()
                statuses.append(
                    ListenerStatus(
                        identifier, listener.table, str(listener.selector), current.model_version, current.backfill_done,
                        source.lag(), current.processed, current.rate,
                    )
                )
        return statuses
