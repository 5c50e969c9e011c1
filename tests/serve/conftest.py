"""A live ``superlite serve`` over a SQLite file of small models, shared by the module's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import superlite
from superlite import ObjectModel
from superlite.testing.http import LiveServer, running_server

TOKEN = "test-token-0123456789"


def fill(uri: str) -> None:
    """Store the models the serve tests call (lambdas are stored by value: the server can load them)."""
    with superlite.connect(uri, broker=None) as db:
        db.apply(ObjectModel("double", object=lambda x: x * 2))
        db.apply(ObjectModel("double", object=lambda x: x * 3))
        db.apply(ObjectModel("echo", object=lambda x: x))
        db.apply(ObjectModel("boom", object=lambda x: 1 / 0))
        db.apply(ObjectModel("pair", object=lambda d: {"sum": d["a"] + d["b"], "count": len(d["a"])}))
        db.apply(ObjectModel("lengths", object=lambda texts: [len(t) for t in texts]))


@pytest.fixture(scope="module")
def models_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file holding the test models."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('serve') / 'models.db'}"
    fill(uri)
    return uri


@pytest.fixture(scope="module")
def server(models_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``superlite serve`` on that file, in-process compute, with a management token and a 1 MiB body limit."""
    log_dir: Path = tmp_path_factory.mktemp("serve-logs")
    with running_server(models_uri, "--max-body-mb", "1", log_dir=log_dir, env={"SUPERLITE_API_TOKEN": TOKEN}) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client on the live server."""
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http
