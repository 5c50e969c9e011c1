"""Finding the services tests talk to, and deciding what happens when one is missing.

On a developer laptop a test that needs PostgreSQL, MariaDB, Redis or RabbitMQ (or a system
tool such as Chromium) skips, with a reason naming what is missing and how to provide it. Under
``SUPERLITE_REQUIRE_SERVICES=1`` (set by CI) the same absence is a failure, so a CI run can
never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Sequence
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

REQUIRE_ENV = "SUPERLITE_REQUIRE_SERVICES"

#: Default address of each service, each overridable by the environment variable named here.
SERVICES: dict[str, tuple[str, str]] = {
    "postgresql": ("SUPERLITE_TEST_POSTGRES_URI", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "mariadb": ("SUPERLITE_TEST_MYSQL_URI", "mysql+pymysql://root@127.0.0.1:3306/test"),
    "redis": ("SUPERLITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "rabbitmq": ("SUPERLITE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
}


def services_required() -> bool:
    """Whether a missing service must fail the test run (CI) instead of skipping."""
    return os.environ.get(REQUIRE_ENV, "").lower() in {"1", "true", "yes"}


def service_url(name: str) -> str:
    """The URL of service ``name``: its environment variable, else the local default."""
    variable, default = SERVICES[name]
    return os.environ.get(variable, default)


def _reachable(url: str, timeout: float = 1.0) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str) -> str:
    """Return the URL of service ``name``, or skip (fail under CI) when it cannot be reached."""
    url = service_url(name)
    if _reachable(url):
        return url
    variable, _ = SERVICES[name]
    missing(f"{name} is not reachable at {url} (set {variable} to point at one)")


def require_executable(names: Sequence[str], install_hint: str) -> str:
    """The path of the first of ``names`` on ``PATH``, or skip (fail under CI) naming ``install_hint``."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    missing(f"{' or '.join(names)} is not installed ({install_hint})")


def missing(reason: str) -> NoReturn:
    """Skip the test for ``reason`` (something it needs is absent); under CI, fail it instead."""
    if services_required():
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 makes this a failure", pytrace=False)
    pytest.skip(reason=reason)
