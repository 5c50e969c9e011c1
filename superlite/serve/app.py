"""The FastAPI application: :func:`create_app` over an open Datalayer, :func:`open_app` from a URI.

The app holds no global state: everything a route needs is the :class:`ServeState` on
``app.state.serve`` (the Datalayer, the options, the metrics).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

import superlite
from superlite.datalayer import Datalayer, connect
from superlite.serve.errors import (
    ApiError,
    api_error_handler,
    http_error_handler,
    unexpected_error_handler,
    validation_error_handler,
)
from superlite.serve.metrics import ServeMetrics

#: Default largest request body, in bytes.
DEFAULT_MAX_BODY = 10 * 2**20

#: Default seconds a request waits for a model's answer.
DEFAULT_TIMEOUT = 60.0

#: The environment variable holding the management token.
TOKEN_ENV = "SUPERLITE_API_TOKEN"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class ServeOptions:
    """How the server behaves.

    ``token``: the bearer token that unlocks management writes (None: read-only).
    ``max_body_bytes``: larger request bodies get 413. ``timeout``: seconds a prediction may
    take before the client gets 504.

    Which version answers a name is the Datalayer's resolver's answer (see
    :mod:`superlite.registry.resolver`): reused until its change feed shows a change, and drawn
    per request while a canary splits an alias.
    """

    token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    timeout: float = DEFAULT_TIMEOUT

    def __repr__(self) -> str:
        token = None if self.token is None else "***"
        return f"ServeOptions(token={token!r}, max_body_bytes={self.max_body_bytes}, timeout={self.timeout})"


@dataclass
class ServeState:
    """What the routes share: the Datalayer, the options and the metrics."""

    db: Datalayer
    options: ServeOptions = field(default_factory=ServeOptions)
    metrics: ServeMetrics = field(default_factory=ServeMetrics)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 before any route reads it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body (at most ``max_bytes``), then hand the request on with the body replayed."""
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._too_large(send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        payload = b'{"error":"request body larger than %d bytes"}' % self.max_bytes
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


def create_app(
    db: Datalayer,
    options: ServeOptions | None = None,
    metrics: ServeMetrics | None = None,
    *,
    close_db: bool = False,
) -> FastAPI:
    """The HTTP API over ``db``: Open Inference Protocol, ``/predict``, management, ``/metrics``, dashboard.

    For per-version request metrics, open ``db`` with ``wrappers=[metrics.wrap]`` (as
    :func:`open_app` does). ``close_db`` closes the Datalayer when the app shuts down.
    """
    from superlite.serve import aliases, dashboard, manage, oip, predict

    state = ServeState(db, options or ServeOptions(), metrics or ServeMetrics())
    state.metrics.watch_cache(db.executor.models, db.result_cache)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_db:
                db.close()

    app = FastAPI(
        title="superlite",
        version=superlite.__version__,
        description="Models stored in a database, served over the Open Inference Protocol (KServe V2) and plain JSON.",
        lifespan=lifespan,
    )
    app.state.serve = state
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
    app.add_middleware(BodyLimit, max_bytes=state.options.max_body_bytes)
    for module in (oip, predict, manage, aliases, dashboard):
        app.include_router(module.router)
    return app


def open_app(
    uri: str | None = None,
    *,
    broker: str | None = None,
    options: ServeOptions | None = None,
    **connect_options: object,
) -> FastAPI:
    """Connect to ``uri`` (and ``broker``) with request metrics, and build the app that owns that Datalayer."""
    metrics = ServeMetrics()
    db = connect(uri, broker=broker, wrappers=[metrics.wrap], **connect_options)
    try:
        return create_app(db, options, metrics, close_db=True)
    except BaseException:
        db.close()
        raise
