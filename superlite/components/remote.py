"""RemoteModel: the proxy that routes predictions to wherever the model is served.

As in SuperDuperDB (seed 000): a proxy holds the model's identity (type_id, identifier,
uuid) and, optionally, the original model. ``original_model`` is loaded lazily from the
Datalayer only when something asks for it. ``predict`` runs the original locally while no
Datalayer is attached, and goes through ``db.compute`` once one is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from superlite.components.component import Encoded
from superlite.components.model import Model
from superlite.errors import SuperliteError

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer


class RemoteModel(Model):
    """A lightweight stand-in for a stored model; see the module docstring."""

    def __new__(cls, *args: Any, **kwargs: Any) -> RemoteModel:
        return object.__new__(cls)

    def __init__(
        self,
        identifier: str,
        *,
        uuid: str | None = None,
        version: int | None = None,
        db: Datalayer | None = None,
        original_model: Model | None = None,
    ) -> None:
        self.identifier = identifier
        self.uuid = uuid
        self.version = version
        self.serve = True
        self.db = db
        self._original_model = original_model

    @classmethod
    def around(cls, original: Model) -> RemoteModel:
        """A proxy holding ``original`` (what ``Model(..., serve=True)`` returns)."""
        return cls(original.identifier, uuid=original.uuid, version=original.version, original_model=original)

    @property
    def has_original(self) -> bool:
        """Whether the original model is held in this process (without loading it)."""
        return self._original_model is not None

    @property
    def original_model(self) -> Model:
        """The model this proxy stands for, loaded from the Datalayer on first access."""
        if self._original_model is None:
            if self.db is None or self.uuid is None:
                raise SuperliteError(f"RemoteModel {self.identifier!r} holds no model and is not attached to a Datalayer")
            self._original_model = self.db.load(self.type_id, uuid=self.uuid, lazy=False)
        return self._original_model

    @original_model.setter
    def original_model(self, model: Model) -> None:
        self._original_model = model

    def pre_create(self, db: Datalayer) -> None:
        """Apply the original model first, then take its version and uuid."""
        if self.uuid is None:
            applied = db.apply(self.original_model)
            self.uuid, self.version = applied.uuid, applied.version
        self.db = db

    def encode(self) -> Encoded:
        """The original's encoding while unstored; only the reference string once stored."""
        if self.uuid is None:
            return self.original_model.encode()
        return Encoded(self.class_path(), self.type_id, self.identifier, reference=self.reference)

    def predict(self, x: Any) -> Any:
        """Predict locally when detached, else through ``db.compute`` (remotely with a broker)."""
        if self.db is None:
            return self.original_model.predict(x)
        return self.db.compute(self.reference, "predict", (x,))

    def predict_batches(self, xs: Sequence[Any], chunk_size: int | None = None) -> list[Any]:
        """Predict many inputs; with a Datalayer, chunks run in parallel and come back in order."""
        if self.db is None:
            return self.original_model.predict_batches(xs)
        return self.db.compute_batches(self.reference, "predict_batches", list(xs), chunk_size=chunk_size)

    def __repr__(self) -> str:
        where = "attached" if self.db is not None else "detached"
        return f"RemoteModel(identifier={self.identifier!r}, version={self.version}, uuid={self.uuid!r}, {where})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RemoteModel):
            return NotImplemented
        return (self.identifier, self.uuid) == (other.identifier, other.uuid)

    __hash__ = None  # type: ignore[assignment]
