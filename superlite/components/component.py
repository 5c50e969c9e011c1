"""The base of everything the Datalayer stores: :class:`Component`.

A component is a dataclass. Its fields are of three kinds, and :meth:`Component.encode` sorts
them for the Datalayer:

* *parameters*: JSON values, stored in the record and part of its content hash;
* *artifacts*: fields named in ``artifact_fields``, serialized into the artifact store by the
  serializer named there (``dill``, ``numpy``, a plugin's);
* *children*: fields holding another component, applied first and stored as a reference.

Besides, every component takes *version metadata* (``description``, ``tags``, ``metrics``,
``source``): stored in the record's ``info``, not in its content hash, so describing a version
never makes a new one (see ``docs/registry.md``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from superlite.common.json_values import json_value
from superlite.components.class_path import class_path
from superlite.components.reference import Reference
from superlite.errors import ArgumentTypeError, SuperliteError

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer

#: Fields that describe where a component is stored, not what it is.
_IDENTITY_FIELDS = frozenset({"identifier", "version", "uuid"})


def transient(default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A dataclass field that is a usage setting, not content: neither stored nor hashed."""
    metadata = {**kwargs.pop("metadata", {}), "transient": True}
    return field(default=default, metadata=metadata, **kwargs)


def version_info(default: Any = None) -> Any:
    """A dataclass field that describes a version without being part of it: stored, not hashed."""
    return field(default=default, kw_only=True, compare=False, metadata={"info": True})


def check_version_info(info: Mapping[str, object], owner: str) -> dict[str, object]:
    """``info`` without its None entries, each checked (ArgumentTypeError naming the bad one)."""
    checked = {name: value for name, value in info.items() if value is not None}
    description, tags, metrics, source = (checked.get(k) for k in ("description", "tags", "metrics", "source"))
    if description is not None and not isinstance(description, str):
        raise ArgumentTypeError(f"{owner}: description must be a str, not {type(description).__name__}")
    if tags is not None and not (
        isinstance(tags, Mapping) and all(isinstance(k, str) and k and isinstance(v, str) for k, v in tags.items())
    ):
        raise ArgumentTypeError(f"{owner}: tags must be a dict of non-empty str names to str values, not {tags!r}")
    if metrics is not None and not (
        isinstance(metrics, Mapping)
        and all(isinstance(k, str) and k and _is_number(v) for k, v in metrics.items())
    ):
        raise ArgumentTypeError(f"{owner}: metrics must be a dict of str names to finite numbers, not {metrics!r}")
    if source is not None:
        json_value(source, f"{owner}: source")
    for name in ("tags", "metrics"):
        if name in checked:
            checked[name] = dict(checked[name])  # type: ignore[call-overload]
    return json_value(checked, f"{owner}: version metadata")  # type: ignore[return-value]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Encoded:
    """A component taken apart for storage (see the module docstring for the three kinds).

    ``reference`` is set instead when the component is already stored and only its reference
    needs saving (a :class:`~superlite.components.remote.RemoteModel` without its original).
    """

    class_path: str
    type_id: str
    identifier: str
    params: dict[str, object] = field(default_factory=dict)
    artifacts: dict[str, tuple[str, object]] = field(default_factory=dict)
    children: dict[str, Component] = field(default_factory=dict)
    reference: str | None = None
    info: dict[str, object] = field(default_factory=dict)


@dataclass
class Component:
    """Something stored, versioned and loaded by the Datalayer.

    ``identifier`` is the user's name; ``version`` (0, 1, 2, …) and ``uuid`` are assigned by
    :meth:`~superlite.datalayer.Datalayer.apply`. Subclasses set ``type_id``, list their
    artifact fields in ``artifact_fields`` (field name -> serializer name) and the methods that
    compute may call in ``servable_methods``.

    A component holds what it is, not where it lives: it keeps no reference to a Datalayer
    (only the :class:`~superlite.components.remote.RemoteModel` proxy does, being a handle).
    """

    type_id: ClassVar[str] = "component"
    artifact_fields: ClassVar[Mapping[str, str]] = {}
    #: Methods ``db.compute`` may call on this component, in-process or on a worker.
    servable_methods: ClassVar[frozenset[str]] = frozenset()

    identifier: str
    version: int | None = field(default=None, kw_only=True, compare=False)
    uuid: str | None = field(default=None, kw_only=True, compare=False)
    description: str | None = version_info()
    tags: dict[str, str] | None = version_info()
    metrics: dict[str, float] | None = version_info()
    source: str | dict[str, Any] | None = version_info()

    @classmethod
    def class_path(cls) -> str:
        """``module:QualifiedName`` of this class, as stored in the record."""
        return class_path(cls)

    @property
    def reference(self) -> str:
        """The reference string ``&:component:<type_id>:<identifier>:<uuid>`` (needs a uuid)."""
        if self.uuid is None:
            raise SuperliteError(f"{self.type_id} {self.identifier!r} has no uuid yet: apply it to a Datalayer first")
        return str(Reference(self.type_id, self.identifier, self.uuid))

    def pre_create(self, db: Datalayer) -> None:
        """Hook run by :meth:`Datalayer.apply` before this component is encoded."""

    def post_create(self, db: Datalayer) -> None:
        """Hook run by :meth:`Datalayer.apply` once this component is stored (version and uuid set)."""

    def encode(self) -> Encoded:
        """Sort this component's fields into parameters, artifacts and children."""
        encoded = Encoded(self.class_path(), self.type_id, self.identifier)
        owner = f"{self.type_id} {self.identifier!r}"
        encoded.info = check_version_info({f.name: getattr(self, f.name) for f in _info_fields(self)}, owner)
        for f in dataclasses.fields(self):
            if f.name in _IDENTITY_FIELDS or f.metadata.get("transient") or f.metadata.get("info"):
                continue
            value = getattr(self, f.name)
            if f.name in self.artifact_fields:
                encoded.artifacts[f.name] = (self.artifact_fields[f.name], value)
            elif isinstance(value, Component):
                encoded.children[f.name] = value
            else:
                encoded.params[f.name] = json_value(
                    value,
                    f"field {f.name!r} of {type(self).__qualname__}",
                    "; list it in artifact_fields to store it as an artifact",
                )
        return encoded


def _info_fields(component: Component) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(component) if f.metadata.get("info")]


def component_types() -> set[str]:
    """The ``type_id`` of every loaded subclass of :class:`Component`."""
    found: set[str] = set()
    pending = list(Component.__subclasses__())
    while pending:
        cls = pending.pop()
        found.add(cls.type_id)
        pending.extend(cls.__subclasses__())
    return found
