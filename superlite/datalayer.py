"""The Datalayer: the one object a user holds, a thin facade over the registry and compute.

It owns a :class:`~superlite.registry.Registry` (records, versions, artifacts, the change feed),
a :class:`~superlite.registry.Resolver` (which version answers a call), an
:class:`~superlite.compute.executor.Executor` (models loaded in this process, keyed by uuid) and
a compute stack (in-process or Celery, with wrappers). ``apply`` and ``load`` go down through
the registry to the stores; ``compute`` resolves what it is given, then hands a task to the
compute stack. See ``docs/architecture.md``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from superlite.common.uris import mask_uri
from superlite.components.component import Component
from superlite.components.reference import Resolved, Selector, parse_reference, split_name
from superlite.components.remote import RemoteModel
from superlite.compute.base import Compute, ResultHandle, Task, TaskOptions
from superlite.compute.executor import Executor
from superlite.compute.pipeline import Wrapper, open_compute
from superlite.config import Settings
from superlite.errors import ConfigurationError
from superlite.registry import Registry, Resolver
from superlite.stores.base import ArtifactStore, ChangeEvent, ComponentRecord, MetadataStore
from superlite.stores.registry import open_artifact_store, open_database


class Datalayer:
    """Stores, versions, loads and runs components. Build one with :func:`superlite.connect`.

    Use it as a context manager, or call :meth:`close`, to release connections and threads.
    """

    def __init__(self, settings: Settings, registry: Registry, *, wrappers: Sequence[Wrapper] = ()) -> None:
        self.settings = settings
        self.registry = registry
        self.resolver = Resolver(registry)
        self.executor = Executor(self._load_model, settings.cache)
        self.compute_backend: Compute = open_compute(settings, self.executor, wrappers)

    @property
    def metadata(self) -> MetadataStore:
        """The metadata store (records, versions, dependencies, the change feed)."""
        return self.registry.metadata

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store (bytes by SHA-256)."""
        return self.registry.artifacts

    # -- registry ------------------------------------------------------------------------------

    def apply(self, component: Component) -> Component:
        """Store ``component`` (its children first) and return it with ``version`` and ``uuid`` set.

        Identical content to the latest version creates nothing and returns that version;
        changed content becomes the next version. Safe to call from several processes at once.
        """
        if not isinstance(component, Component):
            raise TypeError(f"apply takes a superlite Component (e.g. ObjectModel), not {type(component).__qualname__}")
        component.pre_create(self)
        encoded = component.encode()
        if encoded.reference is not None:
            self.registry.record_by_uuid(parse_reference(encoded.reference).uuid)
            return component
        children = {name: self.apply(child) for name, child in encoded.children.items()}
        record = self.registry.store(encoded, children)
        component.version, component.uuid = record.version, record.uuid
        component.post_create(self)
        return component

    def load(
        self,
        type_id: str,
        identifier: str | None = None,
        version: int | None = None,
        uuid: str | None = None,
        *,
        alias: str | None = None,
        lazy: bool = True,
    ) -> Component:
        """Load a stored component: the latest version, or one ``version``, ``uuid`` or ``alias``.

        ``identifier`` may name the version too: ``"sentiment@3"`` or ``"sentiment@latest"``.
        Models come back as :class:`RemoteModel` proxies that read only the record (with an
        alias, a proxy that follows it); their artifacts are fetched when the original model is
        first needed. ``lazy=False`` returns the original component, artifacts loaded and verified.
        """
        selector = self._selector(type_id, identifier, version, uuid, alias)
        if selector.alias is not None:
            resolved = self.resolver.resolve(selector)
            if lazy and type_id == RemoteModel.type_id:
                return RemoteModel(selector.identifier, alias=selector.alias, db=self)
            return self._materialize(self.registry.record_by_uuid(resolved.uuid))
        record = self.registry.record(type_id, selector.identifier or None, version=selector.version, uuid=uuid)
        if lazy and record.type_id == RemoteModel.type_id:
            return RemoteModel(record.identifier, uuid=record.uuid, version=record.version, db=self)
        return self._materialize(record)

    @staticmethod
    def _selector(
        type_id: str, identifier: str | None, version: int | None, uuid: str | None, alias: str | None
    ) -> Selector:
        name, named_alias, named_version = split_name(identifier) if identifier else ("", None, None)
        chosen = [what for what, value in (("version", version), ("uuid", uuid), ("alias", alias)) if value is not None]
        if named_alias is not None or named_version is not None:
            chosen.append(f"{identifier!r}")
        if len(chosen) > 1:
            raise ConfigurationError(f"give one of version, uuid or alias (or name@alias), not {' and '.join(chosen)}")
        return Selector(type_id, name, uuid=uuid, version=version if version is not None else named_version,
                        alias=alias if alias is not None else named_alias)

    def record(self, type_id: str, identifier: str | None = None, version: int | None = None, uuid: str | None = None) -> ComponentRecord:
        """The stored record of one component version (the latest unless ``version``/``uuid`` say)."""
        return self.registry.record(type_id, identifier, version=version, uuid=uuid)

    def show(self, type_id: str | None = None, identifier: str | None = None) -> Any:
        """``{type_id: [identifiers]}``; or one type's identifiers; or one identifier's versions."""
        return self.registry.show(type_id, identifier)

    def remove(
        self, type_id: str, identifier: str, version: int | None = None, force: bool = False, *, keep_outputs: bool = False
    ) -> list[ComponentRecord]:
        """Remove one version (or every version) and free artifacts nobody uses any more.

        Refuses with :class:`DependencyError` while another component depends on it, unless
        ``force``. Never prompts. Returns the removed records. Removing a listener's last
        version stops it following its table and drops its outputs, unless ``keep_outputs``
        (refused while another listener reads those outputs, unless ``force``).
        """
        listener = self._listener_runner().removable(identifier, keep_outputs=keep_outputs, force=force) if type_id == "listener" else None
        removed = self.registry.remove(type_id, identifier, version=version, force=force)
        for record in removed:
            self.executor.discard(record.uuid)
        if listener is not None and not self.registry.metadata.versions(type_id, identifier):
            self._listener_runner().uninstall(listener, keep_outputs=keep_outputs)
        return removed

    def collect_garbage(self) -> set[str]:
        """Delete stored artifacts that no record refers to (left by an interrupted apply/remove)."""
        return self.registry.collect_garbage()

    def changes(self, since: int = 0, limit: int = 1000) -> list[ChangeEvent]:
        """What changed after change ``since`` (applies, removals), oldest first, at most ``limit``."""
        return self.registry.changes(since, limit)

    def resolve(self, target: str | Selector) -> Resolved:
        """The version a reference string or selector means now."""
        selector = Selector.from_reference(target) if isinstance(target, str) else target
        return self.resolver.resolve(selector)

    # -- listeners -----------------------------------------------------------------------------

    def catch_up(self, listener: str, *, progress: bool = False) -> dict[str, int | None]:
        """Process everything pending for ``listener`` now (back-fill, queued changes); return counts.

        ``{"computed": n, "failed": n, "deleted": n, "model_version": v}``. ``progress`` shows a
        tqdm bar during a back-fill.
        """
        return self._listener_runner(progress=progress).catch_up(listener)

    def outputs(self, listener: str) -> dict[Any, Any]:
        """``{source_id: output}``: every output ``listener`` has stored."""
        runner = self._listener_runner()
        with runner.source(runner.listener(listener)) as source:
            return source.outputs()

    def listener_errors(self, listener: str) -> dict[Any, str]:
        """``{source_id: error message}`` for the rows whose model call failed."""
        runner = self._listener_runner()
        with runner.source(runner.listener(listener)) as source:
            return source.errors()

    def _listener_runner(self, progress: bool = False) -> Any:
        from superlite.listeners.runner import ListenerRunner

        return ListenerRunner(self, progress=progress)

    def _materialize(self, record: ComponentRecord) -> Component:
        return self.registry.materialize(record, self._bind)

    def _bind(self, reference: str) -> Component:
        parsed = parse_reference(reference)
        return self.load(parsed.type_id, uuid=parsed.uuid)

    def _load_model(self, uuid: str) -> tuple[Component, int]:
        record = self.registry.record_by_uuid(uuid)
        return self._materialize(record), sum(a.size for a in record.artifacts)

    # -- compute -------------------------------------------------------------------------------

    def compute(
        self,
        target: str | Selector,
        method: str,
        args: Sequence[object] = (),
        kwargs: dict[str, object] | None = None,
        *,
        wait: bool = True,
        timeout: float | None = None,
        key: str | None = None,
        priority: str | None = None,
        queue: str | None = None,
    ) -> Any:
        """Run ``method(*args, **kwargs)`` of the component ``target`` names, on this Datalayer's compute.

        ``target`` is a reference string (pinned) or a selector (an alias is resolved now, once).
        Returns the result, or with ``wait=False`` a :class:`~superlite.compute.base.ResultHandle`
        whose ``.result(timeout)`` waits for it and whose ``.answered_by`` says which version ran.
        ``timeout`` also sets the task's deadline, so a worker that gets to it later skips it.
        """
        task = self._task(target, method, args, kwargs, timeout=timeout, key=key, priority=priority, queue=queue)
        handle = self.compute_backend.submit(task)
        return handle.result(timeout) if wait else handle

    async def acompute(
        self,
        target: str | Selector,
        method: str,
        args: Sequence[object] = (),
        kwargs: dict[str, object] | None = None,
        *,
        timeout: float | None = None,
        key: str | None = None,
        priority: str | None = None,
        queue: str | None = None,
    ) -> Any:
        """:meth:`compute` for asyncio callers: awaits the answer without blocking the event loop."""
        selector = Selector.from_reference(target) if isinstance(target, str) else target
        if not selector.pinned:
            selector = await asyncio.to_thread(self._pin, selector)
        task = self._task(selector, method, args, kwargs, timeout=timeout, key=key, priority=priority, queue=queue)
        handle = await self.compute_backend.asubmit(task)
        return await handle.aresult(timeout)

    def _pin(self, selector: Selector) -> Selector:
        resolved = self.resolver.resolve(selector)
        return Selector(resolved.type_id, resolved.identifier, uuid=resolved.uuid, version=resolved.version)

    def compute_batches(
        self,
        target: str | Selector,
        method: str,
        items: Sequence[Any],
        *,
        chunk_size: int | None = None,
        kwargs: dict[str, object] | None = None,
        timeout: float | None = None,
        key: str | None = None,
        priority: str | None = None,
        queue: str | None = None,
    ) -> list[Any]:
        """Split ``items`` into chunks, run ``method(chunk, **kwargs)`` on each in parallel, join in order.

        The target is resolved once, so every chunk is answered by the same version.
        """
        if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive int, not {chunk_size!r}")
        items = list(items)
        template = self._task(target, method, (), kwargs, timeout=timeout, key=key, priority=priority, queue=queue)
        size = chunk_size or max(1, -(-len(items) // self.compute_backend.parallelism))
        tasks = [
            Task(template.target, method, (items[i : i + size],), template.kwargs, template.options)
            for i in range(0, len(items), size)
        ]
        results: list[Any] = []
        for handle in self.compute_backend.submit_many(tasks):
            results.extend(handle.result(timeout))  # type: ignore[arg-type]
        return results

    def _task(
        self,
        target: str | Selector,
        method: str,
        args: Sequence[object],
        kwargs: dict[str, object] | None,
        *,
        timeout: float | None,
        key: str | None,
        priority: str | None,
        queue: str | None,
    ) -> Task:
        options = TaskOptions(
            priority=priority,
            queue=queue,
            deadline=None if timeout is None else time.time() + timeout,
            routing_key=key,
        )
        return Task(self.resolve(target), method, tuple(args), dict(kwargs or {}), options)

    def submit(self, task: Task) -> ResultHandle:
        """Hand a ready-made task to the compute stack (what :meth:`compute` does after resolving)."""
        return self.compute_backend.submit(task)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop compute, drop loaded models and release store connections."""
        self.compute_backend.close()
        self.executor.close()
        self.registry.close()

    def __enter__(self) -> Datalayer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Datalayer(uri={mask_uri(self.settings.uri)!r}, compute={self.compute_backend.name!r})"


def connect(
    uri: str | None = None,
    *,
    artifacts: str | None = None,
    broker: str | None = None,
    wrappers: Sequence[Wrapper] = (),
    **options: object,
) -> Datalayer:
    """Open a :class:`Datalayer`.

    ``uri`` names the database (default ``$SUPERLITE_URI``, else a SQLite file under
    ``./.superlite/``); ``artifacts`` a separate artifact store such as ``file:///path``
    (default: the same database); ``broker`` a Celery broker such as ``redis://…``
    (default ``$SUPERLITE_BROKER``, else in-process compute). ``options`` are those of
    :class:`~superlite.config.StoreOptions`, :class:`~superlite.config.CacheOptions` and
    :class:`~superlite.config.CeleryOptions`; an unknown or mistyped one is an error.
    ``wrappers`` are stacked around the compute backend, the first innermost (see
    :class:`~superlite.compute.base.ComputeWrapper`).
    """
    settings = Settings.resolve(uri, artifacts=artifacts, broker=broker, **options)
    return open_datalayer(settings, wrappers=wrappers)


def open_datalayer(settings: Settings, *, wrappers: Sequence[Wrapper] = ()) -> Datalayer:
    """Open a :class:`Datalayer` from complete ``settings`` (no environment fallback).

    A worker uses it to open its own, in-process Datalayer: ``connect(broker=None)`` would fall
    back to ``$SUPERLITE_BROKER``, and a worker must never dispatch to itself.
    """
    bundle = open_database(settings)
    artifact_store = bundle.artifacts
    try:
        if settings.artifacts:
            bundle.artifacts.close()
            artifact_store = open_artifact_store(settings.artifacts, settings)
        return Datalayer(settings, Registry(settings, bundle.metadata, artifact_store), wrappers=wrappers)
    except BaseException:
        bundle.metadata.close()
        artifact_store.close()
        raise
