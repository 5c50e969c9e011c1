"""The compute interface: run one method of one stored component, somewhere.

Every backend takes the same request, a :class:`Task`: a component reference pinned to a
uuid (``&:component:model:<identifier>:<uuid>``), a method name and its arguments, and
returns a :class:`ResultHandle`. :meth:`superlite.datalayer.Datalayer.compute` is the one
dispatch path in front of it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Task:
    """One call to run: ``method(*args, **kwargs)`` on the component ``reference`` names."""

    reference: str
    method: str
    args: Sequence[object] = ()
    kwargs: Mapping[str, object] = field(default_factory=dict)


class ResultHandle(abc.ABC):
    """The pending result of a submitted :class:`Task`."""

    @abc.abstractmethod
    def result(self, timeout: float | None = None) -> object:
        """Wait for and return the result; re-raise the model's error as ``RemoteError``."""

    @abc.abstractmethod
    def done(self) -> bool:
        """Whether the result is ready (without waiting)."""


class Compute(abc.ABC):
    """A place that runs :class:`Task` objects and hands back their results."""

    #: Short name shown by ``repr(db)`` and the CLI (``"local"``, ``"celery"``).
    name: str

    #: How many tasks can usefully run at once; ``predict_batches`` splits into this many chunks.
    parallelism: int = 1

    @abc.abstractmethod
    def submit(self, task: Task) -> ResultHandle:
        """Start ``task`` and return at once."""

    def submit_many(self, tasks: Sequence[Task]) -> list[ResultHandle]:
        """Start several tasks; backends may override to send them in one go."""
        return [self.submit(task) for task in tasks]

    def close(self) -> None:
        """Stop threads and release connections. Calling it twice is harmless."""
