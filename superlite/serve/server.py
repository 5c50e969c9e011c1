"""Run the API on uvicorn: one process, or ``workers`` processes sharing the port and the metrics.

With several processes uvicorn imports the app by name in each one, so the configuration
travels in one environment variable (:data:`CONFIG_ENV`, JSON; the token stays in
``$SUPERLITE_API_TOKEN``), and prometheus-client's multiprocess mode (a fresh directory in
``PROMETHEUS_MULTIPROC_DIR``) lets any process answer ``/metrics`` for all of them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

from superlite.serve.app import TOKEN_ENV, ServeOptions, open_app
from superlite.serve.metrics import MULTIPROCESS_ENV

#: Default seconds a change (new version, removal, alias move) may take to reach the API: the
#: ``alias_refresh`` of the Datalayer the server opens.
DEFAULT_RESOLVE_INTERVAL = 0.5

#: The environment variable that carries :class:`ServerConfig` to uvicorn's worker processes.
CONFIG_ENV = "SUPERLITE_SERVE_CONFIG"


@dataclass(frozen=True)
class ServerConfig:
    """What a server process needs to build its app: where the models are, and how to serve them."""

    uri: str | None = None
    broker: str | None = None
    max_body_bytes: int = ServeOptions.max_body_bytes
    timeout: float = ServeOptions.timeout
    resolve_interval: float = DEFAULT_RESOLVE_INTERVAL
    connect_options: dict[str, Any] = field(default_factory=dict)

    def options(self) -> ServeOptions:
        """The server options, with the token read from the environment."""
        return ServeOptions(token=os.environ.get(TOKEN_ENV) or None, max_body_bytes=self.max_body_bytes,
                            timeout=self.timeout)

    def build(self) -> Any:
        """Connect (``resolve_interval`` is the Datalayer's ``alias_refresh``) and build the app."""
        connect_options = {"alias_refresh": self.resolve_interval, **self.connect_options}
        return open_app(self.uri, broker=self.broker, options=self.options(), **connect_options)


def app_from_environment() -> Any:
    """The app described by :data:`CONFIG_ENV` (uvicorn's factory in each worker process)."""
    return ServerConfig(**json.loads(os.environ[CONFIG_ENV])).build()


def run(config: ServerConfig, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "info") -> None:
    """Serve until interrupted (SIGINT or SIGTERM stop it cleanly)."""
    import uvicorn

    if workers == 1:
        uvicorn.run(config.build(), host=host, port=port, log_level=log_level)
        return
    directory = tempfile.mkdtemp(prefix="superlite-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    os.environ[CONFIG_ENV] = json.dumps(asdict(config))
    try:
        uvicorn.run("superlite.serve.server:app_from_environment", factory=True, host=host, port=port,
                    workers=workers, log_level=log_level)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
