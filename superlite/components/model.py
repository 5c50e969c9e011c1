"""Models: components that predict. :class:`Model` is the base; ``serve=True`` gives a proxy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from superlite.components import signature
from superlite.components.batching import Batching
from superlite.components.component import Component, Encoded, transient, version_info
from superlite.errors import ArgumentTypeError, ComponentError, InvalidArgumentError

#: The priorities a call may have: high-priority calls overtake queued low-priority ones on workers.
PRIORITIES = ("high", "normal", "low")


@dataclass
class Model(Component):
    """A component with ``predict(x)`` and ``predict_batches(xs, **options)``.

    Constructing any model with ``serve=True`` returns a
    :class:`~superlite.components.remote.RemoteModel` proxy around it instead: it predicts
    locally until the model is applied to a Datalayer, and through ``db.compute`` after.
    Subclasses may accept options in ``predict_batches`` (``TorchModel`` takes ``progress``);
    a proxy passes its caller's options through to them.

    ``signature`` (``{"input": spec, "output": spec}``, see :mod:`superlite.components.signature`)
    describes what it takes and returns; with ``example=x`` and no signature, apply infers one
    from ``x`` and ``predict(x)``. With ``strict=True`` each call's input is checked against it
    where the model runs, before ``predict``. Both are version metadata: stored, not hashed.

    ``cache=True`` (or a number of seconds) lets callers reuse its answers: equal inputs to the
    same version are computed once (see :mod:`superlite.compute.results`). A class whose answers
    vary for equal inputs sets ``deterministic = False`` and refuses it.

    ``batching=Batching(max_size=32, max_wait_ms=5)`` groups concurrent ``predict`` calls of one
    process into ``predict_batches`` calls (see :mod:`superlite.compute.batching`); it is stored
    with the version, like ``cache``.

    ``priority`` (``"high"``, ``"normal"`` or ``"low"``) is the priority of calls to this version
    on workers when the caller gives none (``predict(x, priority=...)``); stored with the version.

    ``warmup`` lists example inputs (JSON values) that a worker following the model passes to
    ``predict`` after loading a version and before reporting it ready; any exception refuses
    the version (see ``docs/lifecycle.md``). Like TF Serving's warm-up records, they belong to
    the version: they are stored with it and part of its content hash (so changing them makes a
    new version), except that a model without any hashes as it did before the field existed.
    """

    type_id = "model"
    servable_methods: ClassVar[frozenset[str]] = frozenset({"predict", "predict_batches"})
    #: Whether equal inputs always give equal answers; a model class that is not refuses ``cache``.
    deterministic: ClassVar[bool] = True

    serve: bool = transient(False, kw_only=True)
    warmup: list[Any] | None = field(default=None, kw_only=True)
    cache: bool | float | None = field(default=None, kw_only=True)
    batching: dict[str, Any] | None = field(default=None, kw_only=True)
    priority: str | None = field(default=None, kw_only=True)
    signature: dict[str, Any] | None = version_info()
    strict: bool | None = version_info()
    example: Any = transient(None, kw_only=True)

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("serve"):
            from superlite.components.remote import RemoteModel

            original = cls(*args, **{**kwargs, "serve": False})
            return RemoteModel.around(original)
        return super().__new__(cls)

    def pre_create(self, db: Any) -> None:
        """Infer the signature from ``example`` when none is declared."""
        if self.signature is None and self.example is not None:
            self.signature = {"input": signature.infer(self.example), "output": signature.infer(self.predict(self.example))}

    def encode(self) -> Encoded:
        """As :meth:`Component.encode`; no ``warmup`` parameter is stored when there is none."""
        encoded = super().encode()
        for name in ("warmup", "cache", "batching", "priority"):
            if getattr(self, name) is None:
                encoded.params.pop(name, None)
        self._check_cache()
        if self.priority is not None and self.priority not in PRIORITIES:
            raise InvalidArgumentError(
                f"model {self.identifier!r}: priority must be one of {', '.join(map(repr, PRIORITIES))}, not {self.priority!r}"
            )
        if self.batching is not None:
            encoded.params["batching"] = dict(Batching.of(self.batching, f"model {self.identifier!r}") or {})
        if self.signature is not None:
            encoded.info["signature"] = signature.check_signature(self.signature, f"model {self.identifier!r}")
        if self.strict and self.signature is None:
            raise ArgumentTypeError(f"model {self.identifier!r}: strict=True needs a signature (or an example)")
        return encoded

    def _check_cache(self) -> None:
        cache = self.cache
        if cache is None or cache is False:
            return
        if not (cache is True or (isinstance(cache, (int, float)) and not isinstance(cache, bool) and 0 < cache < float("inf"))):
            raise ArgumentTypeError(f"model {self.identifier!r}: cache is True or a number of seconds above 0, not {cache!r}")
        if not self.deterministic:
            raise ComponentError(
                f"model {self.identifier!r}: {type(self).__qualname__} is not deterministic (equal inputs may give "
                f"different answers), so its answers cannot be cached; drop cache="
            )

    def check_call(self, method: str, args: Sequence[Any]) -> None:
        """With ``strict``, refuse an input that does not fit the signature (InvalidArgumentError)."""
        spec = (self.signature or {}).get("input")
        if not self.strict or spec is None or not args:
            return
        if method == "predict":
            signature.check(args[0], spec)
        elif method == "predict_batches":
            for i, item in enumerate(args[0]):
                signature.check(item, spec, f"input[{i}]")

    def warm_up(self) -> None:
        """Run ``predict`` on each ``warmup`` input; raises whatever a failing one raises."""
        for example in self.warmup or ():
            self.predict(example)

    def predict(self, x: Any) -> Any:
        """The prediction for one input."""
        raise NotImplementedError(f"{type(self).__qualname__} does not implement predict")

    def predict_batches(self, xs: Sequence[Any]) -> list[Any]:
        """Predictions for several inputs, in input order."""
        return [self.predict(x) for x in xs]
