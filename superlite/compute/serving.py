"""Routing by serving mode: models a deployment declares ``local`` run in the caller's process.

With a broker, every task goes to the workers, except those of models whose deployment file says
``serving: local`` (see ``docs/lifecycle.md``): :class:`ServingRouter`, the innermost wrapper of
a Datalayer with a broker, sends those to an in-process compute. Wrappers stacked around it
(metrics, result cache) see both kinds alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from superlite.compute.base import Compute, ComputeWrapper, ResultHandle, Task

#: The serving mode of a model: ``mode(type_id, identifier)`` is ``"local"``, ``"remote"`` or None.
ModeOf = Callable[[str, str], str | None]


class ServingRouter(ComputeWrapper):
    """Sends tasks of models declared ``local`` to ``local``; the others to ``inner``."""

    def __init__(self, inner: Compute, local: Compute, mode_of: ModeOf) -> None:
        super().__init__(inner)
        self.local = local
        self.mode_of = mode_of

    def acts_on(self, task: Task) -> bool:
        """Whether ``task``'s model is served in this process."""
        return self.mode_of(task.target.type_id, task.target.identifier) == "local"

    def submit_many(self, tasks: Sequence[Task]) -> list[ResultHandle]:
        """Submit each task where its model is served, answers in the order of ``tasks``."""
        local = [self.acts_on(task) for task in tasks]
        if not any(local):
            return self.inner.submit_many(tasks)
        here = iter(self.local.submit_many([t for t, is_local in zip(tasks, local) if is_local]))
        away = iter(self.inner.submit_many([t for t, is_local in zip(tasks, local) if not is_local]))
        return [next(here) if is_local else next(away) for is_local in local]

    def close(self) -> None:
        """Close the in-process compute, then the inner one."""
        self.local.close()
        super().close()
