"""RemoteModel: the proxy that routes predictions to wherever the model is served.

As in SuperDuperDB (seed 000): a proxy holds the model's identity and, optionally, the original
model. ``original_model`` is loaded lazily from the Datalayer only when something asks for it.
``predict`` runs the original locally while no Datalayer is attached, and goes through
``db.compute`` once one is.

What a proxy points at is a :class:`~superlite.components.reference.Selector`: pinned to a uuid
or a version (it never moves), or an alias such as ``latest`` (resolved again at each call, so
the proxy follows it). ``version`` and ``uuid`` say what serves now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from superlite.common.arguments import checks_arguments
from superlite.components.component import Encoded
from superlite.components.model import Model
from superlite.components.reference import Selector
from superlite.errors import SuperliteError

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer


class RemoteModel(Model):
    """A lightweight stand-in for a stored model; see the module docstring."""

    #: The selector last built, with the (alias, uuid, version) it was built for.
    _selector: tuple[tuple[str | None, str | None, int | None], Selector] | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> RemoteModel:
        return object.__new__(cls)

    def __init__(
        self,
        identifier: str,
        *,
        uuid: str | None = None,
        version: int | None = None,
        alias: str | None = None,
        db: Datalayer | None = None,
        original_model: Model | None = None,
    ) -> None:
        self.identifier = identifier
        self._uuid = uuid
        self._version = version
        self.alias = alias
        self.serve = True
        self.db = db
        self._original_model = original_model

    @classmethod
    def around(cls, original: Model) -> RemoteModel:
        """A proxy holding ``original`` (what ``Model(..., serve=True)`` returns)."""
        return cls(original.identifier, uuid=original.uuid, version=original.version, original_model=original)

    @property
    def selector(self) -> Selector:
        """What this proxy points at: its uuid/version, or the alias it follows."""
        pointed = (self.alias, self._uuid, self._version)
        built = self._selector  # built once per target: every predict asks for it
        if built is not None and built[0] == pointed:
            return built[1]
        if self.alias is not None:
            selector = Selector(self.type_id, self.identifier, alias=self.alias)
        else:
            selector = Selector(self.type_id, self.identifier, uuid=self._uuid, version=self._version)
        self._selector = (pointed, selector)
        return selector

    @property
    def follows_alias(self) -> bool:
        """Whether this proxy follows an alias (and may be answered by another version later)."""
        return self.alias is not None

    @property
    def uuid(self) -> str | None:  # type: ignore[override]
        """The uuid that serves now (for an alias-following proxy, its target's, looked up now)."""
        if self.alias is not None and self.db is not None:
            return self.db.resolve(self.selector, split=False).uuid
        return self._uuid

    @uuid.setter
    def uuid(self, value: str | None) -> None:
        self._uuid = value

    @property
    def version(self) -> int | None:  # type: ignore[override]
        """The version that serves now (for an alias-following proxy, its target's, looked up now).

        While a canary runs on the alias, some requests are answered by the canary version;
        ``db.compute(..., wait=False).answered_by`` tells which one answered a request.
        """
        if self.alias is not None and self.db is not None:
            return self.db.resolve(self.selector, split=False).version
        return self._version

    @version.setter
    def version(self, value: int | None) -> None:
        self._version = value

    @property
    def has_original(self) -> bool:
        """Whether the original model is held in this process (without loading it)."""
        return self._original_model is not None

    @property
    def original_model(self) -> Model:
        """The model this proxy stands for, loaded from the Datalayer on first access.

        An alias-following proxy loads the version the alias points at now, and keeps it.
        """
        if self._original_model is None:
            if self.db is None or (self._uuid is None and self.alias is None):
                raise SuperliteError(f"RemoteModel {self.identifier!r} holds no model and is not attached to a Datalayer")
            self._original_model = self.db.load(self.type_id, uuid=self.db.resolve(self.selector, split=False).uuid, lazy=False)  # type: ignore[assignment]
        return self._original_model  # type: ignore[return-value]

    @original_model.setter
    def original_model(self, model: Model) -> None:
        self._original_model = model

    def pre_create(self, db: Datalayer) -> None:
        """Apply the original model first, then take its version and uuid (attached in :meth:`post_create`)."""
        if self._uuid is None and self.alias is None:
            applied = db.apply(self.original_model)
            self._uuid, self._version = applied.uuid, applied.version

    def post_create(self, db: Datalayer) -> None:
        """Attach to ``db`` once it holds the model, so :meth:`predict` goes through it."""
        self.db = db

    def encode(self) -> Encoded:
        """The original's encoding while unstored; only the reference string once stored."""
        if self._uuid is None and self.alias is None:
            return self.original_model.encode()
        return Encoded(self.class_path(), self.type_id, self.identifier, reference=self.reference)

    def predict(self, x: Any, *, key: str | None = None, priority: str | None = None, timeout: float | None = None) -> Any:
        """Predict locally when detached, else through ``db.compute`` (remotely with a broker).

        ``key`` makes routing sticky (the same key, the same version while a canary split
        holds), ``priority`` orders queued work, ``timeout`` bounds the wait in seconds.
        """
        if self.db is None:
            return self.original_model.predict(x)
        return self.db.compute(self.selector, "predict", (x,), key=key, priority=priority, timeout=timeout)

    async def apredict(
        self, x: Any, *, key: str | None = None, priority: str | None = None, timeout: float | None = None
    ) -> Any:
        """:meth:`predict` for asyncio callers: awaits the answer without blocking the event loop.

        With a Redis result backend the wait takes no thread (pub/sub on the loop); detached, the
        model predicts in a worker thread.
        """
        if self.db is None:
            return await asyncio.to_thread(self.original_model.predict, x)
        return await self.db.acompute(self.selector, "predict", (x,), key=key, priority=priority, timeout=timeout)

    @checks_arguments
    def predict_batches(  # type: ignore[override]
        self,
        xs: Sequence[Any],
        *,
        chunk_size: int | None = None,
        key: str | None = None,
        priority: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> list[Any]:
        """Predict many inputs; with a Datalayer, chunks run in parallel and come back in order.

        Every chunk is answered by the same version. ``options`` go to the model's own
        ``predict_batches`` (e.g. ``progress=True`` for a ``TorchModel``).
        """
        if self.db is None:
            return self.original_model.predict_batches(xs, **options)
        return self.db.compute_batches(
            self.selector, "predict_batches", list(xs), chunk_size=chunk_size, kwargs=options,
            key=key, priority=priority, timeout=timeout,
        )

    def __getstate__(self) -> dict[str, Any]:
        # A proxy travels without its Datalayer (connections, threads): it arrives detached.
        return {**self.__dict__, "db": None}

    def __repr__(self) -> str:
        where = "attached" if self.db is not None else "detached"
        target = f"alias={self.alias!r}" if self.alias is not None else f"version={self._version}, uuid={self._uuid!r}"
        return f"RemoteModel(identifier={self.identifier!r}, {target}, {where})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RemoteModel):
            return NotImplemented
        return (self.identifier, self._uuid, self.alias) == (other.identifier, other._uuid, other.alias)

    __hash__ = None  # type: ignore[assignment]
