"""HTTP errors of the API: one exception, ``{"error": message}`` bodies, and how superlite errors map to statuses.

The mapping follows Triton's for the Open Inference Protocol: not found → 404, unavailable →
503, a model's own exception → 500 (naming its type), anything the client sent wrong → 400.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from superlite.errors import (
    ArgumentTypeError,
    ComputeError,
    ConfigurationError,
    DependencyError,
    InvalidArgumentError,
    NotFoundError,
    RemoteError,
    SuperliteError,
)
from superlite.serve.schemas import ErrorBody


class ApiError(Exception):
    """An answer with HTTP ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def error_response(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: The error answers every route may give, for the OpenAPI document.
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: error_response("Malformed request"),
    405: error_response("Method not allowed (a path parameter such as '..' made the path name another route)"),
    413: error_response("Request body too large"),
}
LOOKUP_ERRORS: dict[int | str, dict[str, Any]] = {**COMMON_ERRORS, 404: error_response("No such component or version")}
COMPUTE_ERRORS: dict[int | str, dict[str, Any]] = {
    **LOOKUP_ERRORS,
    500: error_response("The model raised an exception (its type is named)"),
    503: error_response("Compute is unavailable (broker, workers, deadline)"),
    504: error_response("No answer within the server's timeout"),
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **LOOKUP_ERRORS,
    401: error_response("Missing or wrong bearer token"),
    403: error_response("Management writes are disabled (no token configured)"),
    409: error_response("Other components depend on it (pass force=true)"),
}


def lookup_error(exc: Exception) -> ApiError:
    """The answer for an error raised while finding a component."""
    if isinstance(exc, NotFoundError):
        return ApiError(404, str(exc))
    if isinstance(exc, (ConfigurationError, ValueError)):
        return ApiError(400, str(exc))
    raise exc


def compute_error(exc: BaseException, what: str) -> ApiError:
    """The answer for an error raised while ``what`` (``"sentiment version 3"``) ran or was dispatched."""
    if isinstance(exc, RemoteError):
        return ApiError(500, f"{what} raised {exc.exc_type}: {exc.exc_message}")
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return ApiError(504, f"{what} did not answer in time")
    if isinstance(exc, NotFoundError):
        return ApiError(404, str(exc))
    if isinstance(exc, (ArgumentTypeError, InvalidArgumentError)):
        return ApiError(400, str(exc))
    if isinstance(exc, ComputeError):
        return ApiError(503, str(exc))
    if isinstance(exc, DependencyError):
        return ApiError(409, str(exc))
    if isinstance(exc, SuperliteError):
        return ApiError(503, f"{type(exc).__name__}: {exc}")
    text = str(exc).splitlines()[0] if str(exc) else ""
    return ApiError(500, f"{what} raised {type(exc).__name__}" + (f": {text}" if text else ""))


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Render an :class:`ApiError`."""
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Malformed JSON or a body that does not fit the schema: 400 with the first problems, one line each."""
    assert isinstance(exc, RequestValidationError)
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and "json" not in content_type:
        return JSONResponse({"error": f"send the body as JSON (Content-Type: application/json, not {content_type!r})"},
                            status_code=400)
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        if error.get("type") == "json_invalid":
            where = f"body (character {where})"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return JSONResponse({"error": "invalid request: " + "; ".join(problems)}, status_code=400)


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Anything else: 500 naming the exception type (the traceback goes to the server log)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return JSONResponse({"error": f"internal error: {type(exc).__name__}" + (f": {text}" if text else "")}, status_code=500)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Errors the framework raises itself (unknown route, wrong method, unreadable body), as ``{"error": ...}``."""
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)
