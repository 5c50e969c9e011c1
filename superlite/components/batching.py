"""A model's micro-batching options (the batching itself is :mod:`superlite.compute.batching`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from superlite.errors import ArgumentTypeError, InvalidArgumentError

#: Bounds of the options (a batch of more inputs, or a longer wait, is a configuration mistake).
MAX_BATCH_SIZE = 65_536
MAX_WAIT_MS = 60_000.0


class Batching(dict):  # type: ignore[type-arg]
    """A model's micro-batching options: ``max_size`` inputs per batch, ``max_wait_ms`` to fill one.

    It is a ``dict`` (``{"max_size": 32, "max_wait_ms": 5.0}``) so that it is stored as the
    model's ``batching`` parameter as it is; a model loaded back holds the plain dict, which
    :meth:`of` reads.
    """

    def __init__(self, max_size: int = 32, max_wait_ms: float = 5.0) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int):
            raise ArgumentTypeError(f"batching max_size must be an int, not {type(max_size).__name__} {max_size!r}")
        if not 1 <= max_size <= MAX_BATCH_SIZE:
            raise InvalidArgumentError(f"batching max_size must be between 1 and {MAX_BATCH_SIZE}, not {max_size}")
        if isinstance(max_wait_ms, bool) or not isinstance(max_wait_ms, (int, float)):
            raise ArgumentTypeError(f"batching max_wait_ms must be a number, not {type(max_wait_ms).__name__} {max_wait_ms!r}")
        if not (math.isfinite(max_wait_ms) and 0 <= max_wait_ms <= MAX_WAIT_MS):
            raise InvalidArgumentError(f"batching max_wait_ms must be between 0 and {MAX_WAIT_MS:g}, not {max_wait_ms}")
        super().__init__(max_size=max_size, max_wait_ms=float(max_wait_ms))

    @property
    def max_size(self) -> int:
        """The most inputs in one ``predict_batches`` call."""
        return int(self["max_size"])

    @property
    def max_wait_ms(self) -> float:
        """How long the first input of a batch waits for others, in milliseconds."""
        return float(self["max_wait_ms"])

    @classmethod
    def of(cls, value: Mapping[str, Any] | None, owner: str = "model") -> Batching | None:
        """``value`` (a :class:`Batching`, its stored dict, or None) checked, as a :class:`Batching`."""
        if value is None or isinstance(value, Batching):
            return value
        if not isinstance(value, Mapping):
            raise ArgumentTypeError(f"{owner}: batching must be Batching(max_size=..., max_wait_ms=...), not {value!r}")
        unknown = set(value) - {"max_size", "max_wait_ms"}
        if unknown:
            raise InvalidArgumentError(f"{owner}: unknown batching option(s) {', '.join(sorted(map(str, unknown)))}")
        return cls(**value)
