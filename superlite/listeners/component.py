"""The :class:`Listener` component: a model bound to a table or collection, outputs kept next to the rows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from superlite.components.component import Component, transient
from superlite.components.reference import LATEST, Resolved, Selector, is_reference, split_name
from superlite.components.remote import RemoteModel
from superlite.errors import ComputeError, ConfigurationError

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer
    from superlite.listeners.source import ListenerSource

#: What a listener identifier may look like: it names tables, triggers and queue entries.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,47}")

#: Prefix of the table (or collection) holding a listener's outputs.
OUTPUTS_PREFIX = "_outputs__"


def outputs_table(identifier: str) -> str:
    """The name of the table or collection holding listener ``identifier``'s outputs."""
    return f"{OUTPUTS_PREFIX}{identifier}"


@dataclass
class Listener(Component):
    """Keeps ``model``'s output for every row of ``table`` (a SQL table or a MongoDB collection).

    ``model`` is a model component (pinned: that version computes every output) or a selector
    string: ``"sentiment@production"`` follows the alias, ``"sentiment"`` means
    ``"sentiment@latest"``, ``"sentiment@3"`` pins version 3. When the selector resolves to
    another version, every output is recomputed by it in the background.

    ``key`` is the column (MongoDB: a field, dotted paths allowed) passed to the model;
    ``id_column`` the row identity (default: the primary key; ``_id`` on MongoDB); ``where`` a
    filter (SQL expression text, or a MongoDB filter document): rows outside it get no output.
    ``watermark`` (MongoDB servers without change streams only) names a field every writer sets
    to an increasing value (a date, a counter): polling then reads only the documents it passed,
    instead of comparing every document's key at each look.
    ``batch_size`` rows are read and written per transaction; ``chunk_size`` inputs go to one
    ``predict_batches`` call (default: one chunk per unit of the compute's parallelism, at least
    1000 rows: each chunk costs a broker round trip).

    Applying a listener installs what follows the table (triggers into a queue table, or a
    MongoDB watcher) and, unless ``backfill=False``, computes the outputs of the rows that exist.
    """

    type_id = "listener"
    servable_methods: ClassVar[frozenset[str]] = frozenset({"backfill_range"})

    model: Component | str = ""
    table: str = ""
    key: str = ""
    id_column: str | None = None
    where: Any = None
    watermark: str | None = None
    batch_size: int = 5000
    chunk_size: int | None = None
    backfill: bool = transient(True, kw_only=True)
    _source: ListenerSource | None = transient(None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not NAME_PATTERN.fullmatch(self.identifier):
            raise ConfigurationError(
                f"listener name {self.identifier!r} must match {NAME_PATTERN.pattern}: it names the outputs table "
                f"{outputs_table(self.identifier)!r} and database triggers"
            )
        if not self.model or not self.table or not self.key:
            raise ConfigurationError(f"listener {self.identifier!r} needs model=, table= and key=")
        if isinstance(self.model, RemoteModel) and self.model.follows_alias:
            self.model = f"{self.model.selector.identifier}@{self.model.selector.alias}"
        elif isinstance(self.model, str) and not is_reference(self.model):
            split_name(self.model)  # fails now on a malformed selector
        if self.batch_size < 1 or (self.chunk_size is not None and self.chunk_size < 1):
            raise ConfigurationError("batch_size and chunk_size must be positive")

    @property
    def selector(self) -> Selector:
        """Which model version computes the outputs, as a selector (resolved at each pass)."""
        if isinstance(self.model, Component):
            if isinstance(self.model, RemoteModel):
                return self.model.selector
            return Selector(self.model.type_id, self.model.identifier, uuid=self.model.uuid, version=self.model.version)
        if is_reference(self.model):
            return Selector.from_reference(self.model)
        name, alias, version = split_name(self.model)
        if alias is None and version is None:
            alias = LATEST
        return Selector("model", name, version=version, alias=alias)

    @property
    def outputs_table(self) -> str:
        """The table or collection holding this listener's outputs."""
        return outputs_table(self.identifier)

    def backfill_range(self, model: Sequence[Any], after: Any, last: Any) -> dict[str, int]:
        """Compute and store the outputs of the rows after ``after`` up to ``last``; returns counts.

        A share of a back-fill handed to a worker (``model`` is ``[type_id, identifier, uuid,
        version]``): the worker reads the rows, runs the model and writes the outputs through the
        Datalayer running this task, so rows and outputs never cross the broker. The source opened
        for it is kept with this (cached) component for the next range.
        """
        from superlite.compute.executor import running_host
        from superlite.listeners.runner import ListenerRunner, open_source

        db = running_host()
        if db is None:
            raise ComputeError(f"listener {self.identifier!r}: backfill_range runs as a task on a Datalayer's compute")
        if self._source is None:
            self._source = open_source(db, self)
        return ListenerRunner(db).backfill_range(self, self._source, Resolved(*model), after, last)

    def post_create(self, db: Datalayer) -> None:
        """Install change capture and output storage, then back-fill unless ``backfill=False``."""
        from superlite.listeners.runner import ListenerRunner

        runner = ListenerRunner(db)
        runner.install(self)
        if self.backfill:
            runner.catch_up(self)
