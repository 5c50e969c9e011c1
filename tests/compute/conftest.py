"""Fixtures for remote compute: stacks of real ``superlite worker`` processes (see compute_support)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from superlite.testing.services import require_service
from superlite.testing.workers import Stack, running_stack


@pytest.fixture(scope="module")
def redis_broker() -> str:
    """The test Redis (required under SUPERLITE_REQUIRE_SERVICES=1)."""
    return require_service("redis")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, redis_broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two single-process prefork workers on Redis, over a SQLite file or a PostgreSQL schema."""
    with running_stack(request.param, redis_broker, tmp_path_factory.mktemp(request.param), "--concurrency", "1", count=2) as s:
        yield s


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Build stacks inside a test: ``make_stack(broker, *worker_args, kind="sqlite", count=1)``."""
    with ExitStack() as stacks:

        def make(broker: str, *worker_args: str, kind: str = "sqlite", count: int = 1) -> Stack:
            directory = tmp_path / uuid.uuid4().hex[:8]
            directory.mkdir()
            return stacks.enter_context(running_stack(kind, broker, directory, *worker_args, count=count))

        yield make
