"""GridFS benchmark: superlite's overhead on a ~100 MB artifact, against raw GridFS.

Measured in one run, on the same database and the same bytes:

* baseline: raw GridFS ``put`` / ``get().read()`` (pymongo's ``gridfs.GridFS``);
* the artifact store: ``GridFSArtifactStore.put`` (streams and hashes) and ``open`` + read;
* the whole path: ``db.apply`` of an ObjectModel holding the bytes (dill, temp file, hash,
  GridFS) and ``db.load(..., lazy=False)`` (GridFS, SHA-256 check, unpickling);
* for scale, hashing the bytes once with hashlib: every apply and every load pays it.

Each figure is the best of ``--repeat`` runs on a fresh database, printed as a ratio to the
baseline. Usage::

    .venv/bin/python bench/gridfs_artifacts.py                       # mongomock://, 100 MB
    .venv/bin/python bench/gridfs_artifacts.py --size-mb 20 --uri mongodb://localhost:27017/bench?directConnection=true
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

import gridfs
from superlite_mongodb.artifacts import GRIDFS_CHUNK_SIZE, GridFSArtifactStore
from superlite_mongodb.connection import (
    MongoConnection,
    forget_mongomock,
    open_connection,
)

import superlite
from superlite import ObjectModel
from superlite.config import uri_scheme
from superlite.serialization.hashing import iter_chunks
from superlite.stores.base import CHUNK_SIZE


class Payload:
    """A callable model whose state is a large bytes object."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __call__(self, x: int) -> int:
        return len(self.data) + x


@contextmanager
def fresh_database(uri: str, run: int) -> Iterator[tuple[str, MongoConnection]]:
    """A URI with no data behind it, and a connection to it; emptied again afterwards."""
    if uri_scheme(uri) == "mongomock":
        uri = f"{uri.rstrip('/')}-{run}"
    connection = open_connection(uri)
    give_back = connection.leases.take()
    _empty(connection)
    try:
        yield uri, connection
    finally:
        _empty(connection)
        give_back()
        if uri_scheme(uri) == "mongomock":
            forget_mongomock(uri.partition("://")[2])


def _empty(connection: MongoConnection) -> None:
    for name in connection.database.list_collection_names():
        if name.startswith(("superlite_", "raw.")):
            connection.database.drop_collection(name)


def timed(action: Callable[[], object]) -> float:
    """Seconds ``action`` takes."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def read_all(stream: BinaryIO) -> int:
    """Read ``stream`` to the end in CHUNK_SIZE pieces; return the byte count."""
    return sum(len(chunk) for chunk in iter_chunks(stream, CHUNK_SIZE))


def one_run(uri: str, run: int, data: bytes, sha: str) -> dict[str, float]:
    """Every measurement once, on a fresh database."""
    times: dict[str, float] = {"sha256 alone": timed(lambda: hashlib.sha256(data).hexdigest())}
    with fresh_database(uri, run) as (run_uri, connection):
        raw = gridfs.GridFS(connection.database, collection="raw")
        file_ids = []
        times["raw put"] = timed(lambda: file_ids.append(raw.put(data, chunkSize=GRIDFS_CHUNK_SIZE)))
        times["raw get"] = timed(lambda: read_all(raw.get(file_ids[0])))

        store = GridFSArtifactStore(connection)
        pieces = [data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)]
        times["store put"] = timed(lambda: store.put(sha, iter(pieces), len(data)))
        times["store open+read"] = timed(lambda: read_all(store.open(sha)))
        store.delete(sha)
        store.close()

        with superlite.connect(run_uri) as db:
            times["db.apply"] = timed(lambda: db.apply(ObjectModel("payload", object=Payload(data))))
            times["db.load"] = timed(lambda: db.load("model", "payload", lazy=False))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", default="mongomock://bench-gridfs", help="mongomock://name or mongodb://host/db")
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    data = os.urandom(args.size_mb * 1024 * 1024)
    sha = hashlib.sha256(data).hexdigest()
    runs = [one_run(args.uri, run, data, sha) for run in range(args.repeat)]
    best = {name: min(run[name] for run in runs) for name in runs[0]}

    print(f"GridFS artifact benchmark: {args.size_mb} MiB on {args.uri.split('://')[0]}://, best of {args.repeat}")
    print(f"{'operation':<18}{'seconds':>9}  ratio to raw GridFS")
    rows = [
        ("raw put", "raw put"),
        ("store put", "raw put"),
        ("db.apply", "raw put"),
        ("raw get", "raw get"),
        ("store open+read", "raw get"),
        ("db.load", "raw get"),
        ("sha256 alone", "raw get"),
    ]
    for name, baseline in rows:
        print(f"{name:<18}{best[name]:>9.3f}  {best[name] / best[baseline]:>5.2f}x {baseline}")


if __name__ == "__main__":
    main()
