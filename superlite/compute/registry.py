"""Choose the compute backend: in-process without a broker, Celery with one.

Broker schemes map to import strings, so Celery is imported only when a broker is configured.
Plugins may add backends through the ``superlite.compute`` entry-point group
(``scheme = "pkg.module:opener"``, ``opener(settings, datalayer) -> Compute``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from superlite.compute.base import Compute
from superlite.compute.local import LocalCompute
from superlite.config import Settings, uri_scheme
from superlite.errors import UnknownSchemeError
from superlite.extensions import ExtensionPoint

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer

_CELERY = "superlite.compute.celery:open_celery_compute"

BACKENDS = ExtensionPoint(
    "superlite.compute",
    {"redis": _CELERY, "rediss": _CELERY, "amqp": _CELERY, "amqps": _CELERY, "pyamqp": _CELERY},
)


def open_compute(settings: Settings, datalayer: Datalayer) -> Compute:
    """In-process compute when ``settings.broker`` is None, else the backend its scheme names."""
    if not settings.broker:
        return LocalCompute(datalayer.execute)
    scheme = uri_scheme(settings.broker)
    opener = BACKENDS.find(scheme)
    if opener is None:
        raise UnknownSchemeError(scheme, "compute (broker)", BACKENDS.names())
    return opener(settings, datalayer)
