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
import difflib
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial, wraps
from pathlib import Path
from typing import Any, TypeVar

from superlite.common.arguments import check_identifier, check_selecting_name, check_type_id, checks_arguments, shown
from superlite.common.uris import mask_uri
from superlite.components.component import Component, component_types
from superlite.components.reference import (
    LATEST,
    Resolved,
    Selector,
    is_alias_reference,
    parse_alias_reference,
    parse_reference,
    split_name,
)
from superlite.components.remote import RemoteModel
from superlite.compute.base import Compute, ResultHandle, Task, TaskOptions
from superlite.compute.call_batching import CallBatching
from superlite.compute.executor import Executor, running_options
from superlite.compute.local import LocalCompute
from superlite.compute.pipeline import Wrapper, open_compute
from superlite.compute.results import ResultCache, open_result_store
from superlite.compute.serving import ServingRouter
from superlite.config import Settings
from superlite.errors import (
    ArgumentTypeError,
    ComponentError,
    ConfigurationError,
    DatalayerClosedError,
    DependencyError,
    NotFoundError,
    SchemaVersionError,
)
from superlite.registry import Lifecycle, Registry, Resolver
from superlite.registry.deployment import Deployer, check_spec, read_spec
from superlite.registry.follow import heartbeat_age, is_alive, stale_after
from superlite.registry.serving import ServingModes
from superlite.registry.transfer import check_archive_path, export_archive, import_archive
from superlite.registry.version_policies import VersionPolicies
from superlite.stores.base import ArtifactStore, ChangeEvent, ComponentRecord, MetadataStore
from superlite.stores.registry import open_artifact_store, open_database

M = TypeVar("M", bound=Callable[..., Any])


def check_target(value: object, argument: str = "target") -> str | Selector:
    """``value`` as what compute runs: a reference string (``&:component:…``) or a :class:`Selector`."""
    if isinstance(value, Selector):
        return value
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{argument} must be a reference string (&:component:<type_id>:<identifier>:<uuid>) or a Selector, not {shown(value)}")
    parse_reference(value)
    return value


def public(method: M | None = None, **checks: Callable[[Any, str], Any]) -> Any:
    """Mark a Datalayer method public: refused once the Datalayer is closed, its arguments checked.

    Arguments are checked by name (:func:`~superlite.common.arguments.checks_arguments`, with
    ``checks`` for names of this method's own), so every store sees the same valid values.
    """

    def decorate(function: M) -> M:
        checked = checks_arguments(function, **checks)
        if inspect.iscoroutinefunction(function):

            @wraps(function)
            async def acall(self: Datalayer, *args: Any, **kwargs: Any) -> Any:
                self._require_open(function.__name__)
                return await checked(self, *args, **kwargs)

            return acall  # type: ignore[return-value]

        @wraps(function)
        def call(self: Datalayer, *args: Any, **kwargs: Any) -> Any:
            self._require_open(function.__name__)
            return checked(self, *args, **kwargs)

        return call  # type: ignore[return-value]

    return decorate(method) if method is not None else decorate


class Datalayer:
    """Stores, versions, loads and runs components. Build one with :func:`superlite.connect`.

    Use it as a context manager, or call :meth:`close`, to release connections and threads.
    """

    def __init__(self, settings: Settings, registry: Registry, *, wrappers: Sequence[Wrapper] = ()) -> None:
        self.settings = settings
        self.registry = registry
        self.closed = False
        self.lifecycle = Lifecycle(registry)
        self.resolver = Resolver(registry, self.lifecycle, settings.swap.alias_refresh)
        self.deployer = Deployer(registry, self.lifecycle)
        self.serving = ServingModes(registry, self.resolver.watch)
        self.policies = VersionPolicies(self.metadata, self.resolver.watch)
        self.executor = Executor(self._load_model, settings.cache, host=self)
        self.result_cache: ResultCache | None = None
        self.call_batching: CallBatching | None = None
        own: list[Wrapper] = [self._cache_results]
        if settings.broker:
            if settings.celery.caller_batching:
                own.insert(0, self._batch_calls)
            own.insert(0, partial(ServingRouter, local=LocalCompute(self.executor), mode_of=self.serving.mode))
        self.compute_backend: Compute = open_compute(settings, self.executor, (*own, *wrappers))

    def _cache_results(self, inner: Compute) -> ResultCache:
        """The result-cache wrapper (see :mod:`superlite.compute.results`), kept as :attr:`result_cache`."""
        self.result_cache = ResultCache(inner, open_result_store(self.settings), self.policies.cache)
        return self.result_cache

    def _batch_calls(self, inner: Compute) -> CallBatching:
        """The caller-batching wrapper (see :mod:`superlite.compute.call_batching`), kept as :attr:`call_batching`."""
        self.call_batching = CallBatching(inner, policy=self.policies.batching)
        return self.call_batching

    @property
    def metadata(self) -> MetadataStore:
        """The metadata store (records, versions, dependencies, the change feed)."""
        return self.registry.metadata

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store (bytes by SHA-256)."""
        return self.registry.artifacts

    # -- registry ------------------------------------------------------------------------------

    @public
    def apply(self, component: Component, *, reuse_existing: bool = False) -> Component:
        """Store ``component`` (its children first) and return it with ``version`` and ``uuid`` set.

        Identical content to the latest version creates nothing and returns that version;
        changed content becomes the next version, even when an older version had it, unless
        ``reuse_existing``: then the oldest version with the same content is returned. Version
        metadata (``description``, ``tags``, ...) is not content. Safe to call from several
        processes at once.
        """
        if not isinstance(component, Component):
            raise ComponentError(f"apply takes a superlite Component (e.g. ObjectModel), not {type(component).__qualname__}")
        check_identifier(component.identifier)
        check_type_id(component.type_id, f"type_id of {type(component).__qualname__}")
        before = dict(vars(component))
        try:
            return self._apply(component, reuse_existing)
        except BaseException:
            vars(component).clear()
            vars(component).update(before)
            raise

    def _apply(self, component: Component, reuse_existing: bool) -> Component:
        component.pre_create(self)
        encoded = component.encode()
        if encoded.reference is not None:
            self._check_stored_here(component, encoded.reference)
            component.post_create(self)
            return component
        children = {name: self.apply(child, reuse_existing=reuse_existing) for name, child in encoded.children.items()}
        record = self.registry.store(encoded, children, reuse_existing=reuse_existing)
        self.resolver.forget(record.type_id, record.identifier, LATEST)
        component.version, component.uuid = record.version, record.uuid
        component.post_create(self)
        return component

    def _check_stored_here(self, component: Component, reference: str) -> None:
        """Refuse a stored component's reference that this database does not hold (another Datalayer's)."""
        try:
            self.registry.record_by_uuid(parse_reference(reference).uuid)
        except NotFoundError as exc:
            raise NotFoundError(
                f"{component.type_id} {component.identifier!r} was stored in another database ({exc}); "
                f"load it here, or apply the original model (not its proxy) to this Datalayer"
            ) from None

    @public(identifier=check_selecting_name)
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

    @public
    def record(self, type_id: str, identifier: str | None = None, version: int | None = None, uuid: str | None = None) -> ComponentRecord:
        """The stored record of one component version (the latest unless ``version``/``uuid`` say)."""
        return self.registry.record(type_id, identifier, version=version, uuid=uuid)

    @public
    def set_tags(
        self, type_id: str, identifier: str, *, version: int | None = None, tags: Mapping[str, str | None]
    ) -> dict[str, str]:
        """Set tags on one version (the latest by default) after it was applied; None deletes a tag.

        Like MLflow's ``set_model_version_tag``: tags are version metadata, outside the content
        hash, so no new version is made. Returns the version's tags.
        """
        return self.registry.set_tags(type_id, identifier, version, tags)

    @public
    def search(self, type_id: str, *, tags: Mapping[str, str] | None = None) -> list[dict[str, object]]:
        """Every version of ``type_id`` whose tags include all of ``tags``, as ``info`` prints them."""
        return [record.to_dict() for record in self.registry.search(type_id, tags)]

    @public
    def export(
        self, type_id: str, identifier: str, path: str | Path, *, version: int | None = None, all_versions: bool = False
    ) -> list[dict[str, object]]:
        """Write one version (the latest by default; every version with ``all_versions``) to the
        portable archive ``path``, with the components it depends on and every artifact.

        Returns the records written. :meth:`import_` reads it into any database.
        """
        target = check_archive_path(path)
        versions = self.registry.show(type_id, identifier) if all_versions else [version]
        records = [self.registry.record(type_id, identifier, version=v) for v in versions]
        return [record.to_dict() for record in export_archive(self.registry, records, target)]

    @public
    def import_(self, path: str | Path) -> list[dict[str, object]]:
        """Store what the archive ``path`` holds, keeping uuids and versions; return the records added.

        Every artifact's digest and every clash is checked before anything is written; records
        already here (same uuid, same content) are skipped. See :mod:`superlite.registry.transfer`.
        """
        added = import_archive(self.registry, check_archive_path(path))
        self.resolver.forget()  # new versions: "latest" may have moved
        return [record.to_dict() for record in added]

    @public
    def show(self, type_id: str | None = None, identifier: str | None = None) -> Any:
        """``{type_id: [identifiers]}``; or one type's identifiers; or one identifier's versions.

        A ``type_id`` that is neither stored nor a known component type raises
        :class:`~superlite.errors.NotFoundError` listing the known ones.
        """
        if type_id is not None:
            known = self.type_ids()
            if type_id not in known:
                close = difflib.get_close_matches(type_id, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise NotFoundError(f"unknown component type {type_id!r}{hint}; known types: {', '.join(known)}", known)
        return self.registry.show(type_id, identifier)

    @public
    def type_ids(self) -> list[str]:
        """Component types stored here or defined by a loaded component class, sorted."""
        return sorted(set(self.metadata.type_ids()) | component_types())

    @public
    def remove(
        self, type_id: str, identifier: str, version: int | None = None, force: bool = False, *, keep_outputs: bool = False
    ) -> list[ComponentRecord]:
        """Remove one version (or every version) and free artifacts nobody uses any more.

        Refuses with :class:`DependencyError` while another component depends on it or an alias
        points at it, unless ``force`` (which also removes those aliases, or ends their canary). Never prompts. Returns
        the removed records. Removing a listener's last version stops it following its table and
        drops its outputs, unless ``keep_outputs`` (refused while another listener reads those
        outputs, unless ``force``).
        """
        versions = set(self.registry.show(type_id, identifier)) if version is None else {version}
        aliased = self.lifecycle.pointing_at(type_id, identifier, versions)
        if aliased and not force:
            names = ", ".join(f"{state.alias!r} (version {state.version})" for state in aliased)
            raise DependencyError(
                f"cannot remove {type_id} {identifier!r}: aliases {names} point at it; move or remove "
                f"them first (set_alias, remove_alias) or pass force=True, which removes them too"
            )
        listener = self._listener_runner().removable(identifier, keep_outputs=keep_outputs, force=force) if type_id == "listener" else None
        removed = self.registry.remove(type_id, identifier, version=version, force=force)
        for state in aliased:
            if state.version in versions:
                self.lifecycle.remove(type_id, identifier, state.alias, why="its version was removed (force=True)")
            else:
                self.lifecycle.rollback(type_id, identifier, state.alias, why="its canary version was removed (force=True)")
        self.resolver.forget()
        for record in removed:
            self.executor.discard(record.uuid)
        if listener is not None and not self.registry.metadata.versions(type_id, identifier):
            self._listener_runner().uninstall(listener, keep_outputs=keep_outputs)
        return removed

    @public
    def sign_records(self, *, unsigned: bool = False) -> dict[str, list[str]]:
        """Sign again with this Datalayer's ``signing_key`` every record signed by another accepted key.

        The middle step of a key rotation (``docs/security.md``); ``unsigned=True`` also signs
        records that have no signature (only for content you trust). Returns the names of the
        records ``signed``, ``kept`` (already signed with this key), left ``unsigned`` and
        ``invalid`` (their signature does not verify; left as they are).
        """
        return self.registry.sign_records(unsigned=unsigned)

    @public
    def collect_garbage(self) -> set[str]:
        """Delete stored artifacts that no record refers to (left by an interrupted apply/remove)."""
        return self.registry.collect_garbage()

    @public
    def changes(self, since: int = 0, limit: int = 1000) -> list[ChangeEvent]:
        """What changed after change ``since`` (applies, removals), oldest first, at most ``limit``."""
        return self.registry.changes(since, limit)

    # -- aliases, canaries, rollback --------------------------------------------------------------

    @public
    def set_alias(self, type_id: str, identifier: str, alias: str, version: int, *, why: str | None = None) -> dict[str, object]:
        """Create ``alias`` or move it to ``version`` (a running canary ends); return its state.

        Proxies loaded with ``alias=`` (or ``"name@alias"``) follow the move from their next call.
        Every change is recorded in :meth:`alias_history`, with who made it and ``why``. When
        live workers follow the alias, the move is two-phase: it returns once they have loaded
        and warmed ``version`` (at most ``swap_timeout`` seconds), and raises
        :class:`~superlite.errors.SwapError`, leaving the alias where it was, if one of them
        could not (the same holds for :meth:`start_canary` and :meth:`rollback`).
        """
        state = self.lifecycle.set(type_id, identifier, alias, version, why).to_dict()
        self.resolver.forget(type_id, identifier, alias)
        return state

    @public
    def aliases(self, type_id: str, identifier: str) -> dict[str, dict[str, object]]:
        """``{alias: state}`` of one identifier: target version and uuid, canary, previous version."""
        return self.lifecycle.list(type_id, identifier)

    @public
    def remove_alias(self, type_id: str, identifier: str, alias: str, *, why: str | None = None) -> None:
        """Delete ``alias`` (proxies following it fail with NotFoundError from their next call)."""
        self.lifecycle.remove(type_id, identifier, alias, why)
        self.resolver.forget(type_id, identifier, alias)

    @public
    def alias_history(
        self, type_id: str, identifier: str, alias: str | None = None, *, limit: int = 100
    ) -> list[dict[str, object]]:
        """Alias changes of one identifier (of one alias when given), newest first."""
        return [change.to_dict() for change in self.lifecycle.history(type_id, identifier, alias, limit)]

    @public
    def start_canary(
        self, type_id: str, identifier: str, alias: str, version: int, percent: int, *, why: str | None = None
    ) -> dict[str, object]:
        """Send ``percent`` (1–99) of the alias's requests to ``version``; the rest stay on its target.

        A request's routing ``key`` (``predict(x, key=user_id)``) keeps it on one side while the
        split holds; requests without a key are split at random.
        """
        state = self.lifecycle.start_canary(type_id, identifier, alias, version, percent, why).to_dict()
        self.resolver.forget(type_id, identifier, alias)
        return state

    @public
    def promote(self, type_id: str, identifier: str, alias: str, *, why: str | None = None) -> dict[str, object]:
        """Move the alias to its canary version: all traffic goes there and the canary ends."""
        state = self.lifecycle.promote(type_id, identifier, alias, why).to_dict()
        self.resolver.forget(type_id, identifier, alias)
        return state

    @public
    def rollback(self, type_id: str, identifier: str, alias: str, *, why: str | None = None) -> dict[str, object]:
        """End the alias's canary if one runs; otherwise move it back to its previous version."""
        state = self.lifecycle.rollback(type_id, identifier, alias, why).to_dict()
        self.resolver.forget(type_id, identifier, alias)
        return state

    @public
    def deploy(self, spec: str | Path | Mapping[str, Any], *, check: bool = False, why: str | None = None) -> dict[str, Any]:
        """Bring aliases and canaries to what a deployment file (a path, or its parsed content) declares.

        Every model and version must exist, or nothing changes. With ``check=True`` nothing
        changes anyway: the answer lists the moves that would be made. Otherwise the moves are
        made and the file is stored as the next version of the ``deployment`` component named by
        its ``name``, so :meth:`rollback_deployment` can apply an earlier one again.
        """
        checked = check_spec(read_spec(spec) if isinstance(spec, (str, Path)) else spec)
        self.serving.check(checked)
        if check:
            moves = self.deployer.plan(checked)
            return {"deployment": checked["name"], "version": None, "moves": [m.to_dict() for m in moves]}
        deployment, moves = self.deployer.apply(checked, why)
        self.resolver.forget()
        stored = self.apply(deployment)
        self.serving.forget()
        return {"deployment": stored.identifier, "version": stored.version, "moves": [m.to_dict() for m in moves]}

    @public(name=check_identifier)
    def rollback_deployment(self, name: str, version: int | None = None) -> dict[str, Any]:
        """Apply deployment ``name`` as it was at ``version`` (default: the version before the latest)."""
        return self.deploy(self.deployer.rollback(name, version), why=f"rollback of deployment {name!r}")

    @public
    def workers(self, *, include_stale: bool = False) -> list[dict[str, object]]:
        """The serving processes that report to this database: host, pid, queues, follows, loaded models.

        Each entry also has ``heartbeat_age`` (seconds) and ``alive``: a process is stale once it
        has missed three heartbeats (at least one second; see ``docs/lifecycle.md``). Stale ones
        (killed workers) are left out unless ``include_stale``.
        """
        now = datetime.now(UTC)
        views = []
        for status in self.metadata.workers():
            alive = is_alive(status, now)
            if alive or include_stale:
                views.append(
                    {
                        "id": status.id, "host": status.host, "pid": status.pid, "queues": list(status.queues),
                        "follow": list(status.follow), "policy": status.policy,
                        "loaded": [dict(m) for m in status.loaded],
                        "targets": {uuid: dict(t) for uuid, t in status.targets.items()},
                        "heartbeat_age": round(heartbeat_age(status, now), 3), "alive": alive,
                        "stale_after": stale_after(status),
                        "started_at": status.started_at.isoformat() if status.started_at else None,
                    }
                )
        return views

    @public(target=check_target)
    def resolve(self, target: str | Selector, key: str | None = None, *, split: bool = True) -> Resolved:
        """The version a reference string or selector means now, for a request with routing ``key``.

        ``split=False`` ignores a canary running on the alias: the answer is the alias's target.
        """
        selector = Selector.from_reference(target) if isinstance(target, str) else target
        return self.resolver.resolve(selector, key, split=split)

    # -- listeners -----------------------------------------------------------------------------

    @public(listener=check_identifier)
    def catch_up(self, listener: str, *, progress: bool = False) -> dict[str, int | None]:
        """Process everything pending for ``listener`` now (back-fill, queued changes); return counts.

        ``{"computed": n, "failed": n, "deleted": n, "model_version": v}``. ``progress`` shows a
        tqdm bar during a back-fill.
        """
        return self._listener_runner(progress=progress).catch_up(listener)

    @public(listener=check_identifier)
    def outputs(self, listener: str) -> dict[Any, Any]:
        """``{source_id: output}``: every output ``listener`` has stored."""
        runner = self._listener_runner()
        with runner.source(runner.listener(listener)) as source:
            return source.outputs()

    @public(listener=check_identifier)
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
        if is_alias_reference(reference):
            type_id, name = parse_alias_reference(reference)
            return self.load(type_id, name)
        parsed = parse_reference(reference)
        return self.load(parsed.type_id, uuid=parsed.uuid)

    def _load_model(self, uuid: str) -> tuple[Component, int]:
        record = self.registry.record_by_uuid(uuid)
        return self._materialize(record), sum(a.size for a in record.artifacts)

    # -- compute -------------------------------------------------------------------------------

    @public(target=check_target)
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
        A call made by a running model (a composite's children) inherits that task's routing
        ``key``, ``priority``, deadline and request id unless it gives its own.
        """
        task = self._task(target, method, args, kwargs, timeout=timeout, key=key, priority=priority, queue=queue)
        handle = self.compute_backend.submit(task)
        return handle.result(timeout) if wait else handle

    @public(target=check_target)
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
            selector = await asyncio.to_thread(self._pin, selector, key)
        task = self._task(selector, method, args, kwargs, timeout=timeout, key=key, priority=priority, queue=queue)
        handle = await self.compute_backend.asubmit(task)
        return await handle.aresult(timeout)

    def _pin(self, selector: Selector, key: str | None) -> Selector:
        resolved = self.resolver.resolve(selector, key)
        return Selector(resolved.type_id, resolved.identifier, uuid=resolved.uuid, version=resolved.version)

    @public(target=check_target)
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
        parent = running_options()
        if parent is not None:  # a nested call (a composite's child): the parent's options hold
            key = parent.routing_key if key is None else key
            priority = parent.priority if priority is None else priority
        selector = Selector.from_reference(target) if isinstance(target, str) else target
        resolved = self.resolver.resolve(selector, key)
        if priority is None and self.settings.broker:
            priority = self.policies.priority(resolved.uuid)
        deadline = None if timeout is None else time.time() + timeout
        if parent is not None and parent.deadline is not None:
            deadline = parent.deadline if deadline is None else min(deadline, parent.deadline)
        options = TaskOptions(
            priority=priority,
            queue=queue,
            deadline=deadline,
            routing_key=key,
            **({"request_id": parent.request_id} if parent is not None else {}),
        )
        return Task(resolved, method, tuple(args), dict(kwargs or {}), options)

    @public
    def submit(self, task: Task) -> ResultHandle:
        """Hand a ready-made task to the compute stack (what :meth:`compute` does after resolving)."""
        return self.compute_backend.submit(task)

    @public
    async def asubmit(self, task: Task) -> ResultHandle:
        """:meth:`submit` for asyncio callers: await the handle's ``aresult()``; ``answered_by`` names the version."""
        return await self.compute_backend.asubmit(task)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop compute, drop loaded models and release store connections (again: nothing happens).

        Every public method called afterwards raises :class:`~superlite.errors.DatalayerClosedError`.
        """
        if self.closed:
            return
        self.closed = True
        self.resolver.close()
        self.compute_backend.close()
        self.executor.close()
        self.registry.close()

    def __enter__(self) -> Datalayer:
        return self

    def _require_open(self, method: str) -> None:
        if self.closed:
            raise DatalayerClosedError(
                f"Datalayer.{method}: this Datalayer ({mask_uri(self.settings.uri)}) is closed; open another "
                f"with superlite.connect()"
            )

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
        if not settings.store.auto_upgrade:
            _require_current_schema(settings, bundle.metadata)
        if settings.artifacts:
            bundle.artifacts.close()
            artifact_store = open_artifact_store(settings.artifacts, settings)
        return Datalayer(settings, Registry(settings, bundle.metadata, artifact_store), wrappers=wrappers)
    except BaseException:
        bundle.metadata.close()
        artifact_store.close()
        raise


def _require_current_schema(settings: Settings, metadata: MetadataStore) -> None:
    status = metadata.schema_status()
    if not status.up_to_date:
        uri = mask_uri(settings.uri)
        raise SchemaVersionError(
            f"the database {uri} is at superlite schema revision {status.current or '(none)'} but this "
            f"release needs {status.head} (pending: {', '.join(status.pending)}), and auto_upgrade is off. "
            f"Run `superlite db upgrade --uri {uri}`, or connect with auto_upgrade=True."
        )
