"""Build the compute stack: a backend chosen by the broker's scheme, wrapped by small wrappers.

The backend is in-process (:class:`~superlite.compute.local.LocalCompute`) without a broker,
Celery with one. Broker schemes map to import strings, so Celery is imported only when a broker
is configured; plugins add backends through the ``superlite.compute`` entry-point group
(``scheme = "pkg.module:opener"``, ``opener(settings, executor) -> Compute``).

Around the backend, each :class:`~superlite.compute.base.ComputeWrapper` adds one behaviour
(result cache, routing, metrics): ``wrappers`` are applied in order, the first one innermost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from superlite.common.uris import uri_scheme
from superlite.compute.base import Compute
from superlite.compute.executor import Executor
from superlite.compute.local import LocalCompute
from superlite.config import Settings
from superlite.errors import UnknownSchemeError
from superlite.extensions import ExtensionPoint

_CELERY = "superlite.compute.celery:open_celery_compute"

BACKENDS = ExtensionPoint(
    "superlite.compute",
    {"redis": _CELERY, "rediss": _CELERY, "amqp": _CELERY, "amqps": _CELERY, "pyamqp": _CELERY},
)

#: Something that wraps a compute in another (a :class:`~superlite.compute.base.ComputeWrapper` class fits).
Wrapper = Callable[[Compute], Compute]


def open_backend(settings: Settings, executor: Executor) -> Compute:
    """In-process compute when ``settings.broker`` is None, else the backend its scheme names."""
    if not settings.broker:
        return LocalCompute(executor)
    scheme = uri_scheme(settings.broker)
    opener = BACKENDS.find(scheme)
    if opener is None:
        raise UnknownSchemeError(scheme, "compute (broker)", BACKENDS.names())
    return opener(settings, executor)


def open_compute(settings: Settings, executor: Executor, wrappers: Sequence[Wrapper] = ()) -> Compute:
    """The backend for ``settings`` with ``wrappers`` stacked around it (the first innermost)."""
    compute = open_backend(settings, executor)
    try:
        for wrap in wrappers:
            compute = wrap(compute)
    except BaseException:
        compute.close()
        raise
    return compute
