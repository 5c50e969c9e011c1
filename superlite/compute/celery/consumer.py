"""The worker's message consumer: Celery's, answering tasks it cannot decode instead of dropping them.

A task whose arguments hold a value of a wire type installed on the caller but not on the worker
(say a torch tensor, without ``superlite[torch]`` on the worker) fails to decode before any task
code runs. Celery logs that and drops the message, and the caller waits its whole timeout. Here
the task is also recorded as failed in the result backend, with a
:class:`~superlite.errors.SerializationError` naming the wire type and the plugin to install,
so the caller gets that error at once.
"""

from __future__ import annotations

import socket
from contextlib import suppress
from typing import Any

from celery.app.task import Context
from celery.worker.consumer import Consumer

from superlite.compute.celery.envelope import ERROR, TaskFailed, failure
from superlite.errors import SerializationError


class AnsweringConsumer(Consumer):  # type: ignore[misc]
    """Celery's consumer, which also fails an undecodable task in the result backend."""

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        """Record the task as failed (naming what could not be decoded), then log and drop it as Celery does."""
        headers = message.headers or {}
        task_id = headers.get("id")
        if task_id is not None:
            error = SerializationError(f"worker {socket.gethostname()} could not decode task {task_id}: {exc}")
            properties = message.properties or {}
            request = Context(
                id=task_id, task=headers.get("task"), reply_to=properties.get("reply_to"),
                correlation_id=properties.get("correlation_id", task_id),
            )
            with suppress(Exception):
                self.app.backend.mark_as_failure(task_id, TaskFailed(failure(error)[ERROR]), request=request)
        super().on_decode_error(message, exc)
