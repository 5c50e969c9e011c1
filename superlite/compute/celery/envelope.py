"""What a worker's task returns: the model's result, or a description of what went wrong.

An error is a Celery task failure (state ``FAILURE``, visible as such in Flower and the result
backend) whose exception is always :class:`TaskFailed`, carrying the description as plain JSON:
Celery rebuilds only that class on the caller, never whatever class the model raised (which
the caller may not have, and which Celery would otherwise try to import). Workers of an older
release sent the same description inside a successful result; :func:`unwrap` reads both. The
caller turns the description back into an exception:

* an error of superlite's own (``superlite.errors.*``, e.g. ``NotFoundError`` for an unknown
  uuid) is raised again as the same class with the same fields (``class_path``, ``scheme``,
  ``available``...), chained to a :class:`RemoteError` that carries the worker's traceback;
* anything the model raised becomes a :class:`~superlite.errors.RemoteError` with the original
  type, message and traceback text.
"""

from __future__ import annotations

import os
import socket
import traceback
from typing import Any

from superlite import errors
from superlite.errors import RemoteError, SuperliteError
from superlite.serialization.wire import CODEC

OK = "ok"
ERROR = "error"


def success(value: Any) -> dict[str, Any]:
    """The envelope of a result."""
    return {OK: value}


def failure(exc: BaseException) -> dict[str, Any]:
    """The envelope of an exception raised while resolving the model or running it."""
    cls = type(exc)
    own = cls.__module__ == errors.__name__ and issubclass(cls, SuperliteError)
    return {
        ERROR: {
            "type": cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}",
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc)),
            "superlite": own,
            "fields": _fields(exc) if own else {},
            "worker": f"{socket.gethostname()} pid {os.getpid()}",
        }
    }


class TaskFailed(Exception):  # noqa: N818 - the name Flower and the result backend show
    """How a worker fails a task: ``args[0]`` is the error description of a :func:`failure` envelope."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error)
        self.error = error

    def __str__(self) -> str:
        return f"{self.error.get('type')}: {self.error.get('message')}"


def unwrap(envelope: Any) -> Any:
    """The result inside ``envelope``, or raise the exception it describes."""
    if OK in envelope:
        return envelope[OK]
    raise _exception(envelope[ERROR])


def reraise(exc: TaskFailed) -> Exception:
    """The caller-side exception for a task the worker failed (see the module docstring)."""
    return _exception(exc.error)


def _fields(exc: BaseException) -> dict[str, Any]:
    """The attributes a superlite error carries besides its message, in their JSON view."""
    fields = {name: value for name, value in vars(exc).items() if not name.startswith("_")}
    if isinstance(exc, ImportError):
        fields["name"] = exc.name
    return {name: CODEC.to_plain_json(value) for name, value in fields.items()}


def _rebuilt(cls: type[SuperliteError], message: str, fields: dict[str, Any]) -> SuperliteError:
    """An instance of ``cls`` with ``message`` and ``fields``, whatever its constructor's signature."""
    if not fields:
        try:
            return cls(message)
        except TypeError:
            pass
    local = cls.__new__(cls)
    local.args = (message,)
    for name, value in fields.items():
        setattr(local, name, value)
    return local


def _exception(error: dict[str, Any]) -> Exception:
    remote = RemoteError(error["type"], error["message"], f"(on {error['worker']})\n{error['traceback']}")
    if error.get("superlite"):
        cls = getattr(errors, error["type"].rpartition(".")[2], None)
        if isinstance(cls, type) and issubclass(cls, SuperliteError) and cls is not RemoteError:
            local = _rebuilt(cls, f"{error['message']} (on worker {error['worker']})", error.get("fields") or {})
            local.__cause__ = remote
            return local
    return remote
