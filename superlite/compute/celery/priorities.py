"""How a task's priority reaches the broker: the broker's own priority queues, as Celery documents them.

``"high"`` calls overtake queued ``"normal"`` ones, which overtake queued ``"low"`` ones; calls
of one priority keep their order. A worker takes the next task only when a pool slot is free
(prefetch multiplier 1), so a high-priority call waits at most for the calls already running.

* **Redis** keeps a list per priority step under the queue's name (kombu's ``priority_steps``;
  the list named exactly like the queue is the highest step) and a worker's ``BRPOP`` asks the
  lists in priority order. Lower numbers are higher priorities there.
* **RabbitMQ** orders a queue declared with ``x-max-priority`` itself (higher numbers first).
  Queues are declared with it from the start; a queue an older release declared without it
  must be deleted (``rabbitmqctl delete_queue superlite``) or another queue name used.

Calls without a priority are ``"normal"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Redis: the priority steps (kombu's lists per queue), and each priority's number.
REDIS_STEPS: Sequence[int] = (0, 3, 6)
REDIS_PRIORITIES: Mapping[str, int] = {"high": 0, "normal": 3, "low": 6}

#: RabbitMQ: the queues' x-max-priority, and each priority's number.
AMQP_MAX_PRIORITY = 9
AMQP_PRIORITIES: Mapping[str, int] = {"high": 9, "normal": 5, "low": 1}


def message_priority(on_redis: bool, priority: str | None) -> int:
    """The broker's number for ``priority`` (None: normal)."""
    table = REDIS_PRIORITIES if on_redis else AMQP_PRIORITIES
    return table[priority or "normal"]


def app_settings(on_redis: bool) -> dict[str, Any]:
    """The Celery settings that turn priorities on, for callers and workers alike."""
    if on_redis:
        return {"task_default_priority": REDIS_PRIORITIES["normal"]}
    return {"task_default_priority": AMQP_PRIORITIES["normal"], "task_queue_max_priority": AMQP_MAX_PRIORITY}


def redis_transport_options() -> dict[str, Any]:
    """kombu's Redis transport options for the priority steps."""
    return {"priority_steps": list(REDIS_STEPS)}


def redis_keys(channel: Any, queue: str) -> list[str]:
    """The Redis lists that hold ``queue``'s waiting tasks, highest priority first."""
    return [channel._q_for_pri(queue, step) for step in REDIS_STEPS]
