"""Celery compute: predictions on ``superlite worker`` processes behind a Redis or RabbitMQ broker.

``app`` builds the Celery app from settings, ``compute`` is the caller's side
(:class:`~superlite.compute.celery.compute.CeleryCompute`), ``tasks`` the worker's task and
``worker`` the ``superlite worker`` command's engine. Importing this package does not import
Celery; asking for :func:`open_celery_compute` does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["open_celery_compute"]


def __getattr__(name: str) -> Any:
    if name == "open_celery_compute":
        from superlite.compute.celery.compute import open_celery_compute

        return open_celery_compute
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
