"""What every composite model shares: children held as models or aliases, stored as references.

A child is a :class:`~superlite.components.model.Model` (stored or not) or an alias name such as
``"sentiment@production"``. Applying a composite applies its unapplied children first and
stores each one's reference string, pinned to the uuid applied, so applying a new version of a
child never changes a stored composite; an alias child is stored as an alias reference and
resolved at every call, so the composite follows promotions. Loaded back, every child is a
:class:`~superlite.components.remote.RemoteModel` attached to the Datalayer that loaded it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from superlite.components.component import Encoded
from superlite.components.model import Model
from superlite.components.reference import alias_reference, is_alias_reference, is_reference, split_name
from superlite.components.remote import RemoteModel
from superlite.errors import ComponentError, CompositeError

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer

#: What a composite accepts as a child.
Child = Model | str

T = TypeVar("T")


def check_child(composite: str, where: str, child: object) -> None:
    """Refuse a child that is neither a model nor an alias name, naming where it was given."""
    if isinstance(child, Model):
        return
    if isinstance(child, str) and (is_reference(child) or is_alias_reference(child) or "@" in child):
        if "@" in child and not child.startswith("&:"):
            split_name(child)
        return
    raise ComponentError(
        f"{composite!r}: {where} is a {type(child).__qualname__}; give a Model (e.g. ObjectModel) "
        f"or an alias name such as 'sentiment@production'"
    )


def child_name(child: Child) -> str:
    """How messages name a child: its identifier, or the alias name it follows."""
    if isinstance(child, Model):
        return child.identifier
    return child.rpartition(":")[2] if child.startswith("&:") else child


@dataclass
class CompositeModel(Model):
    """A model made of other models. Subclasses list their child fields in ``child_fields``.

    A child field holds a list or a ``{key: child}`` dict of children (or one child).
    """

    child_fields: ClassVar[tuple[str, ...]] = ()

    def children(self) -> Iterator[tuple[str, Child]]:
        """``(where, child)`` for every child (``where`` is e.g. ``"steps[1]"``)."""
        for name in type(self).child_fields:
            value = getattr(self, name)
            if isinstance(value, list):
                yield from ((f"{name}[{i}]", child) for i, child in enumerate(value))
            elif isinstance(value, dict):
                yield from ((f"{name}[{key!r}]", child) for key, child in value.items())
            elif value is not None:
                yield name, value

    def check_children(self) -> None:
        """Refuse children that are neither models nor alias names (called at construction)."""
        for where, child in self.children():
            check_child(self.identifier, where, child)

    def pre_create(self, db: Datalayer) -> None:
        """Apply every unapplied child first, and check every alias child exists now."""
        for where, child in self.children():
            if isinstance(child, Model) and child.uuid is None:
                db.apply(child)
            elif isinstance(child, str) and not child.startswith("&:"):
                try:
                    db.load(self.type_id, child)
                except Exception as exc:
                    raise ComponentError(f"{self.identifier!r}: {where} follows {child!r}, which cannot be resolved: {exc}") from exc

    def encode(self) -> Encoded:
        """As :meth:`Model.encode`, with each child replaced by its (pinned or alias) reference string."""
        stored = copy.copy(self)
        for name in type(self).child_fields:
            setattr(stored, name, _map(getattr(self, name), self._stored_child))
        return Model.encode(stored)

    def _stored_child(self, child: Child) -> str:
        if isinstance(child, str):
            return child if child.startswith("&:") else alias_reference(self.type_id, child)
        if child.uuid is None:
            raise ComponentError(f"{self.identifier!r}: child {child.identifier!r} is not stored; apply the composite to a Datalayer")
        return child.reference

    def call(self, child: Child, method: str, arg: Any) -> Any:
        """``child.predict(arg)`` or ``child.predict_batches(arg)`` (one call per batch), failures named."""
        if isinstance(child, str):
            raise CompositeError(
                self.identifier, child_name(child),
                "an alias child needs a Datalayer: apply the composite and call it through db.load(...)",
            )
        try:
            if method == "predict":
                return child.predict(arg)
            if isinstance(child, RemoteModel):
                return child.predict_batches(arg, chunk_size=max(1, len(arg)))
            return child.predict_batches(arg)
        except CompositeError:
            raise
        except Exception as exc:
            raise CompositeError(self.identifier, child_name(child), f"{type(exc).__name__}: {exc}") from exc


def run_parallel(calls: Sequence[Callable[[], T]]) -> list[T | BaseException]:
    """Run ``calls`` on threads of their own, each in a copy of the caller's context; answers or exceptions, in order.

    Copying the context keeps a call made inside a running task nested (it runs inline on its
    thread instead of queueing behind its parent on the bounded local pool, see
    ``superlite/compute/local.py``), so composites on a full pool cannot deadlock.
    """
    if len(calls) == 1:
        return [_outcome(calls[0])]
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="superlite-composite") as pool:
        futures = [pool.submit(copy_context().run, _outcome, call) for call in calls]
        return [future.result() for future in futures]


def _outcome(call: Callable[[], T]) -> T | BaseException:
    try:
        return call()
    except Exception as exc:
        return exc


def _map(value: Any, fn: Callable[[Child], str]) -> Any:
    if isinstance(value, list):
        return [fn(child) for child in value]
    if isinstance(value, dict):
        return {key: fn(child) for key, child in value.items()}
    return None if value is None else fn(value)
