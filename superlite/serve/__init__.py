"""``superlite serve``: the HTTP API (Open Inference Protocol, plain JSON, management), metrics and dashboard.

Needs the ``serve`` extra (``pip install superlite[serve]``): FastAPI, uvicorn, prometheus-client
and numpy are imported only when this package is. See ``docs/http.md``.
"""

from superlite.serve.app import ServeOptions, create_app, open_app
from superlite.serve.metrics import ServeMetrics

__all__ = ["ServeMetrics", "ServeOptions", "create_app", "open_app"]
