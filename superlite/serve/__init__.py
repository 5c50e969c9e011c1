"""``superlite serve``: the HTTP API (Open Inference Protocol, plain JSON, management), metrics and dashboard.

Needs the ``serve`` extra (``pip install superlite[serve]``): FastAPI, uvicorn, prometheus-client
and numpy are imported only when a module of this package is used (the names below load on first
access, so ``superlite.serve.worker_metrics`` does not pull in the web stack). See ``docs/http.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ServeMetrics": "superlite.serve.metrics",
    "ServeOptions": "superlite.serve.app",
    "create_app": "superlite.serve.app",
    "open_app": "superlite.serve.app",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
