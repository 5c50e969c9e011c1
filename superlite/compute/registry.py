"""Choose the compute backend: in-process without a broker, Celery with one.

Broker schemes map to import strings, so Celery is imported only when a broker is configured.
Plugins may add backends through the ``superlite.compute`` entry-point group
(``scheme = "pkg.module:opener"``, ``opener(settings, datalayer) -> Compute``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from superlite.compute.base import Compute
from superlite.compute.local import LocalCompute
from superlite.config import Settings, uri_scheme
from superlite.errors import UnknownSchemeError

if TYPE_CHECKING:
    from superlite.datalayer import Datalayer

GROUP = "superlite.compute"

_CELERY = "superlite.compute.celery:open_celery_compute"

BUILTIN_BROKER_SCHEMES: Mapping[str, str] = {
    "redis": _CELERY,
    "rediss": _CELERY,
    "amqp": _CELERY,
    "amqps": _CELERY,
    "pyamqp": _CELERY,
}


@cache
def _plugin_schemes() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def open_compute(settings: Settings, datalayer: Datalayer) -> Compute:
    """In-process compute when ``settings.broker`` is None, else the backend its scheme names."""
    if not settings.broker:
        return LocalCompute(datalayer.execute)
    table = {**BUILTIN_BROKER_SCHEMES, **_plugin_schemes()}
    scheme = uri_scheme(settings.broker)
    if scheme not in table:
        raise UnknownSchemeError(scheme, "compute (broker)", table)
    module, _, attr = table[scheme].partition(":")
    return getattr(importlib.import_module(module), attr)(settings, datalayer)
