"""One open MongoDB database, shared by the metadata store and the GridFS artifact store.

This is the only module that knows the difference between a real server (``mongodb://``,
``mongodb+srv://``, through pymongo) and the in-process stand-in (``mongomock://``). Everything
above it talks to a :class:`MongoConnection` and asks it whether transactions are available.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import mongomock
import pymongo
from mongomock.gridfs import enable_gridfs_integration
from pymongo.errors import ConfigurationError as PyMongoConfigurationError
from pymongo.errors import OperationFailure, PyMongoError

from superlite.common.leases import Leases
from superlite.common.uris import mask_uri, uri_scheme
from superlite.errors import ConfigurationError, StoreUnavailableError

#: How long opening a ``mongodb://`` URI waits for a server before giving up.
SERVER_SELECTION_TIMEOUT_MS = 3000

MONGOMOCK_SCHEME = "mongomock"

_COMMAND_NOT_FOUND = 59

# Process-level registry of in-memory servers, by mongomock:// name. It is the one piece of
# module state in this plugin, and deliberately so: a mongomock database lives in the memory of
# its client object, so "the same URI means the same database" (what a user expects of
# connect("mongomock://demo") called twice, as of any database URI) holds only if every opener
# in the process finds the same client. It holds data, not configuration; forget_mongomock()
# empties it.
_MONGOMOCK_CLIENTS: dict[str, mongomock.MongoClient] = {}
_MONGOMOCK_LOCK = threading.Lock()


@dataclass(eq=False)
class MongoConnection:
    """A client, the database a URI names, and what that deployment supports.

    ``transactions`` is True on replica sets and sharded clusters (multi-document transactions),
    False on a standalone server and on mongomock. The stores sharing a connection each take a
    lease from :attr:`leases` and give it back when closed; the client closes with the last one
    (mongomock data survives).
    """

    client: Any
    database: Any
    transactions: bool
    description: str
    leases: Leases = field(init=False)

    def __post_init__(self) -> None:
        self.leases = Leases(self.client.close)


def open_connection(uri: str) -> MongoConnection:
    """Open ``mongodb://``, ``mongodb+srv://`` or ``mongomock://`` and check it is usable.

    Raises :class:`~superlite.errors.ConfigurationError` for a URI without a database name and
    :class:`~superlite.errors.StoreUnavailableError` (password masked) when no server answers
    within :data:`SERVER_SELECTION_TIMEOUT_MS`.
    """
    if uri_scheme(uri) == MONGOMOCK_SCHEME:
        return _open_mongomock(uri)
    return _open_server(uri)


def _open_server(uri: str) -> MongoConnection:
    shown = mask_uri(uri)
    try:
        client = pymongo.MongoClient(
            uri,
            serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
            tz_aware=True,
            appname="superlite",
        )
    except PyMongoConfigurationError as exc:
        raise ConfigurationError(f"invalid MongoDB URI {shown}: {exc}") from None
    try:
        database = client.get_default_database()
    except PyMongoConfigurationError:
        client.close()
        raise ConfigurationError(
            f"MongoDB URI {shown} names no database: add one to its path, "
            f"for example mongodb://localhost:27017/mydb"
        ) from None
    try:
        hello = _hello(client)
    except OperationFailure as exc:
        client.close()
        reason = (exc.details or {}).get("errmsg") or str(exc)
        raise StoreUnavailableError(f"MongoDB at {shown} refused superlite (code {exc.code}): {reason}") from None
    except PyMongoError as exc:
        client.close()
        raise StoreUnavailableError(
            f"cannot reach MongoDB at {shown} within {SERVER_SELECTION_TIMEOUT_MS} ms "
            f"({type(exc).__name__}). Is the server running and the address right?"
        ) from None
    replicated = "setName" in hello or hello.get("msg") == "isdbgrid"
    return MongoConnection(client, database, transactions=replicated, description=shown)


def _hello(client: pymongo.MongoClient) -> dict[str, Any]:
    # "hello" (MongoDB 4.4.2+ and backports); older servers only know its former name.
    try:
        return client.admin.command("hello")
    except OperationFailure as exc:
        if exc.code != _COMMAND_NOT_FOUND:
            raise
        return client.admin.command("isMaster")


def _open_mongomock(uri: str) -> MongoConnection:
    name = uri.partition("://")[2].strip("/")
    if not name:
        raise ConfigurationError(
            f"mongomock URI {uri!r} needs a name, for example mongomock://demo; "
            f"the same name in one process is the same in-memory database"
        )
    _enable_mongomock_gridfs()
    with _MONGOMOCK_LOCK:
        client = _MONGOMOCK_CLIENTS.get(name)
        if client is None:
            client = _MONGOMOCK_CLIENTS[name] = mongomock.MongoClient(tz_aware=True)
    return MongoConnection(client, client[name], transactions=False, description=uri)


@cache
def _enable_mongomock_gridfs() -> None:
    # pymongo's GridIn/GridOut check isinstance(..., pymongo Collection); mongomock widens those
    # checks once per process so its collections are accepted.
    enable_gridfs_integration()


def forget_mongomock(name: str | None = None) -> None:
    """Drop the in-memory database ``mongomock://name`` (every one when ``name`` is None).

    Frees its memory; the next ``connect("mongomock://name")`` starts empty. Stores still open
    on it keep working on the dropped data.
    """
    with _MONGOMOCK_LOCK:
        if name is None:
            _MONGOMOCK_CLIENTS.clear()
        else:
            _MONGOMOCK_CLIENTS.pop(name, None)
