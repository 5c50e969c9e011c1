"""The message a caller sends and a worker reads: one place that knows its shape.

A ``superlite.execute`` task has five positional arguments: the reference string (pinning a
uuid), the method name, the encoded positional and keyword arguments, and a dict of options
(``request_id``, ``version``, ``deadline``, ``priority``, ``routing_key``; absent ones are left
out). Workers of an older release sent four; a missing options dict reads as no options.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from superlite.components.reference import Resolved, parse_reference
from superlite.compute.base import Task, TaskOptions


def wire_options(task: Task) -> dict[str, Any]:
    """The options dict sent with ``task``."""
    options = task.options
    values = {
        "request_id": options.request_id,
        "version": task.target.version,
        "deadline": options.deadline,
        "priority": options.priority,
        "routing_key": options.routing_key,
    }
    return {name: value for name, value in values.items() if value is not None}


@lru_cache(maxsize=4096)
def _target(reference: str, version: int | None) -> Resolved:
    """What a message's reference and version pin (cached: a worker sees the same few, over and over)."""
    parsed = parse_reference(reference)
    return Resolved(parsed.type_id, parsed.identifier, parsed.uuid, version)


def task_from_message(
    reference: str, method: str, args: Sequence[Any], kwargs: Mapping[str, Any], options: Mapping[str, Any] | None
) -> Task:
    """The :class:`~superlite.compute.base.Task` a worker runs for a received message."""
    options = options or {}
    target = _target(reference, options.get("version"))
    task_options = TaskOptions(
        priority=options.get("priority"),
        deadline=options.get("deadline"),
        routing_key=options.get("routing_key"),
        **({"request_id": str(options["request_id"])} if "request_id" in options else {}),
    )
    return Task(target, method, tuple(args), dict(kwargs), task_options)
